"""Webhooks: a workspace's endpoints, and the outbox of deliveries to them.

An endpoint's signing secret is stored sealed (AES-GCM under a key derived from the
gateway's secret, app/domain/webhooks/secrets.py): the gateway must recompute HMACs, so it
cannot keep only a hash as it does for API keys, but a copy of the database alone does
not give the secrets away, and no GraphQL field ever reads it back.

A delivery is one event for one endpoint: written by ``record_change`` in the same
transaction as the change (the outbox), then claimed, sent and retried by the delivery
worker (app/webhooks/worker.py). ``payload`` is the exact body that is signed and sent,
the same at every attempt.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.types import UTCDateTime, enum_column, utcnow


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt (or being attempted)
    SUCCEEDED = "SUCCEEDED"  # the endpoint answered 2xx
    FAILED = "FAILED"  # every attempt failed; redeliverWebhook queues it again


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_webhook_endpoints_workspace_id_id"),
        sa.Index("ix_webhook_endpoints_workspace_id", "workspace_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    url: str = Field(max_length=2048)
    description: str = Field(default="", max_length=500)
    # Public event types it receives; empty: every event (those added later too).
    events: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    enabled: bool = Field(default=True)
    secret_sealed: str = Field(max_length=200)
    created_by_user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class WebhookDelivery(SQLModel, table=True):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "id", name="uq_webhook_deliveries_workspace_id_id"),
        # Deleting an endpoint deletes its deliveries: nothing more is sent to it.
        sa.ForeignKeyConstraint(
            ["workspace_id", "endpoint_id"],
            ["webhook_endpoints.workspace_id", "webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint",
            ondelete="CASCADE",
        ),
        sa.Index("ix_webhook_deliveries_endpoint", "workspace_id", "endpoint_id", "id"),
        # The worker's lookup of what is due (NULL once delivered or failed for good).
        sa.Index("ix_webhook_deliveries_next_attempt_at", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    endpoint_id: int
    # The Standard Webhooks message id (`webhook-id`): the same at every attempt and
    # redelivery, so a receiver can drop a message it has already handled.
    event_id: str = Field(max_length=40)
    event_type: str = Field(max_length=64)
    payload: str = Field(sa_type=sa.Text)
    status: WebhookDeliveryStatus = Field(
        default=WebhookDeliveryStatus.PENDING,
        sa_column=enum_column(WebhookDeliveryStatus, "webhook_delivery_status", nullable=False),
    )
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = Field(default=None)
    last_duration_ms: int | None = Field(default=None)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class WebhookDeliveryAttempt(SQLModel, table=True):
    """One attempt at sending a delivery: written by the worker in the transaction that
    records the attempt's result on the delivery (whose ``last_*`` columns repeat the
    latest of these)."""

    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        # Deleting a delivery (its endpoint, its workspace) deletes its attempts.
        sa.ForeignKeyConstraint(
            ["workspace_id", "delivery_id"],
            ["webhook_deliveries.workspace_id", "webhook_deliveries.id"],
            name="fk_webhook_delivery_attempts_delivery",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "workspace_id", "delivery_id", "attempt", name="uq_webhook_delivery_attempts_attempt"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workspace_id: int = Field(foreign_key="workspaces.id", ondelete="CASCADE")
    delivery_id: int
    attempt: int  # 1 for the first
    started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status_code: int | None = Field(default=None)  # null: no answer
    duration_ms: int
    error: str | None = Field(default=None, max_length=500)
