"""The workspace and what belongs to it one-to-one or as small fixed lists:
general settings and branding (columns of the workspace), intelligence settings,
AI providers, integrations and the subscription."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, enum_column, utcnow
from app.models.enums import IntegrationStatus, Plan, SubscriptionStatus

WORKSPACE_FK = "workspaces.id"


class Workspace(SQLModel, table=True):
    __tablename__ = "workspaces"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=100)
    logo_url: str | None = Field(default=None, max_length=2048)
    handbook: str = Field(default="", sa_type=sa.Text, nullable=False)
    brand_primary_color: str | None = Field(default=None, max_length=7)
    brand_accent_color: str | None = Field(default=None, max_length=7)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class IntelligenceSettings(SQLModel, table=True):
    __tablename__ = "intelligence_settings"

    workspace_id: int = Field(primary_key=True, foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    default_model: str | None = Field(default=None, max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AIProvider(SQLModel, table=True):
    __tablename__ = "ai_providers"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "provider"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    provider: str = Field(max_length=50)
    enabled: bool = Field(default=True)
    models: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)


class Subscription(SQLModel, table=True):
    __tablename__ = "subscriptions"
    __table_args__ = (sa.CheckConstraint("seats > 0", name="seats_positive"),)

    workspace_id: int = Field(primary_key=True, foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    plan: Plan = Field(sa_column=enum_column(Plan, "plan", nullable=False))
    status: SubscriptionStatus = Field(
        sa_column=enum_column(SubscriptionStatus, "subscription_status", nullable=False)
    )
    seats: int
    current_period_end: datetime | None = Field(default=None, sa_type=UTCDateTime)
    canceled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Integration(SQLModel, table=True):
    __tablename__ = "integrations"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "provider"),)

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key=WORKSPACE_FK, ondelete="CASCADE")
    provider: str = Field(max_length=50)
    status: IntegrationStatus = Field(
        sa_column=enum_column(IntegrationStatus, "integration_status", nullable=False)
    )
    connected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    connected_by_user_id: int | None = Field(default=None, foreign_key="users.id")
