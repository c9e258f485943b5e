"""The operators' own log: what Harmony staff did to a workspace from the CLI.

Not a tenant table. A record describes a workspace but does not belong to it: it must
outlive the workspace (a deletion's record is written in the very transaction that
deletes every row of the workspace), so ``workspace_id`` is no foreign key, and the
slug and name are copied in. On PostgreSQL the application role has no privilege on
the table at all and row-level security is on with no policy (migration 0005): only the
owner role the CLI connects as reads or writes it. The record names no member and holds
no content of the workspace: counts, states, the operator and their reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, utcnow


class OperatorAuditRecord(SQLModel, table=True):
    __tablename__ = "operator_audit"
    __table_args__ = (sa.Index("ix_operator_audit_workspace_id", "workspace_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    # Who: the operator's name as given (--operator, else the login name).
    operator: str = Field(max_length=200)
    # What: e.g. "workspace.deleted", "workspace.subscription_canceled".
    action: str = Field(max_length=64)
    workspace_id: int
    workspace_slug: str = Field(max_length=63)
    workspace_name: str = Field(max_length=100)
    # Why: a ticket reference or a sentence (--reason).
    reason: str = Field(max_length=1000)
    # Counts per table, the subscription's state: never a member's name or content.
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
