"""Accounts: one per person, shared by every workspace they belong to."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, enum_column, utcnow
from app.models.enums import UserStatus


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        # Emails are unique regardless of case: ADA@acme.test is ada@acme.test.
        sa.Index("ux_users_email_lower", sa.func.lower(sa.column("email")), unique=True),
        sa.CheckConstraint("length(email) > 2", name="email_nonempty"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320)
    name: str = Field(max_length=200)
    avatar_url: str | None = Field(default=None, max_length=2048)
    status: UserStatus = Field(
        default=UserStatus.ACTIVE,
        sa_column=enum_column(UserStatus, "user_status", nullable=False),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # signOutEverywhere: user tokens issued at or before this instant are refused.
    sessions_valid_after: datetime | None = Field(default=None, sa_type=UTCDateTime)
