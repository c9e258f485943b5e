"""Audit events: append-only, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_ws_id", "workspace_id", "id"),
        sa.Index("ix_audit_events_ws_action_id", "workspace_id", "action", "id"),
        sa.Index("ix_audit_events_ws_actor_id", "workspace_id", "actor_user_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # No foreign keys onto tenant rows: the log outlives what it describes.
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    action: str = Field(max_length=64)
    actor_user_id: int | None = Field(default=None, foreign_key="users.id")
    actor_api_key_id: int | None = Field(default=None)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: int | None = Field(default=None)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    request_id: str | None = Field(default=None, max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
