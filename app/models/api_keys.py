"""API keys for partner integrations: bound to one workspace, stored as a hash.

The hash lives in a table of its own, ``api_key_secrets``, which the application role
may only INSERT into on PostgreSQL (migration 0003): listing, loading or changing a key
never reads it, and only authentication's SECURITY DEFINER lookup compares it."""

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
    permissions: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    created_by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiKeySecret(SQLModel, table=True):
    """The verifier of one key: SHA-256 of its whole secret (hex); the secret itself is
    never stored."""

    __tablename__ = "api_key_secrets"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["workspace_id", "api_key_id"],
            ["api_keys.workspace_id", "api_keys.id"],
            ondelete="CASCADE",
        ),
    )

    api_key_id: int = Field(primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    secret_hash: str = Field(max_length=64)
