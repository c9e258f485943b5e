"""API keys for partner integrations: bound to one workspace, stored as a hash."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, utcnow


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_api_keys_workspace_id_id"),
        sa.Index("ix_api_keys_workspace_id", "workspace_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    # Public lookup handle (the characters after ``hmy_`` up to the first ``_``).
    prefix: str = Field(max_length=16, sa_column_kwargs={"unique": True})
    # SHA-256 of the whole secret, hex; the secret itself is never stored.
    secret_hash: str = Field(max_length=64)
    permissions: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    created_by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
