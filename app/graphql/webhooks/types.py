"""Webhook endpoints and their deliveries: ``Workspace.webhookEndpoints``,
``WebhookEndpoint.deliveries``, ``WebhookDelivery.attempts``; ``Query.webhookEventTypes``
(the public event types, app/domain/webhooks/events.py). A secret is never a field: it is shown once, in the
payload of the mutation that makes it (app/graphql/webhooks/mutations.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app import models as tables
from app.domain.webhooks.events import EVENT_TYPES
from app.graphql.context import Info
from app.graphql.directives import scoped_field
from app.graphql.enums import WebhookDeliveryStatus
from app.graphql.ids import encode_id
from app.graphql.node import Node, node_id
from app.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    page_window,
    read_connection,
)
from app.graphql.users.types import UserType, user_or_none
from app.models import pk

WEBHOOKS_READ = "webhooks:read:all"


@strawberry.type(
    name="WebhookDeliveryAttempt",
    description="One attempt at sending a delivery to its endpoint.",
)
class WebhookDeliveryAttemptType:
    row: strawberry.Private[tables.WebhookDeliveryAttempt]

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("Which attempt (1 for the first; a redelivery counts again from 1).")
    def attempt(self) -> int:
        return self.row.attempt

    @scoped_field("When it started.")
    def started_at(self) -> datetime:
        return self.row.started_at

    @scoped_field("The endpoint's HTTP status; null without an answer (timeout, refused).")
    def status_code(self) -> int | None:
        return self.row.status_code

    @scoped_field("How long it took, in milliseconds.")
    def duration_ms(self) -> int:
        return self.row.duration_ms

    @scoped_field("Why it failed (e.g. timeout, HTTP 500); null when it succeeded.")
    def error(self) -> str | None:
        return self.row.error

    @scoped_field("True when the endpoint answered 2xx.")
    def success(self) -> bool:
        code = self.row.status_code
        return code is not None and 200 <= code < 300


@strawberry.type(
    name="WebhookDelivery",
    description=(
        "One event sent (or to be sent) to one endpoint: its latest attempt, and `attempts`. "
        "Signed per Standard Webhooks; see docs/partners.md#webhooks."
    ),
)
class WebhookDeliveryType(Node):
    row: strawberry.Private[tables.WebhookDelivery]
    id: strawberry.ID = node_id("WebhookDelivery")

    @classmethod
    def of(cls, row: tables.WebhookDelivery) -> WebhookDeliveryType:
        return cls(row=row, id=strawberry.ID(encode_id("WebhookDelivery", pk(row))))

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field(
        "The event's message id (`webhook-id` header, `msg_…`): the same at every attempt "
        "and redelivery, so a receiver can drop what it already handled."
    )
    def event_id(self) -> str:
        return self.row.event_id

    @scoped_field("The event's type, e.g. member.role_changed.")
    def event_type(self) -> str:
        return self.row.event_type

    @scoped_field("The exact JSON body sent (and signed).")
    def payload(self) -> str:
        return self.row.payload

    @scoped_field("Where it stands.")
    def status(self) -> WebhookDeliveryStatus:
        return self.row.status

    @scoped_field("True once the endpoint answered 2xx.")
    def success(self) -> bool:
        return self.row.status == WebhookDeliveryStatus.SUCCEEDED

    @scoped_field("Attempts made so far (1 for the first).")
    def attempt(self) -> int:
        return self.row.attempts

    @scoped_field("HTTP status of the latest attempt; null before one, or without an answer.")
    def status_code(self) -> int | None:
        return self.row.last_status_code

    @scoped_field("How long the latest attempt took, in milliseconds.")
    def duration_ms(self) -> int | None:
        return self.row.last_duration_ms

    @scoped_field("Why the latest attempt failed (e.g. timeout, HTTP 500), if it did.")
    def error(self) -> str | None:
        return self.row.last_error

    @scoped_field("When the latest attempt started.")
    def last_attempt_at(self) -> datetime | None:
        return self.row.last_attempt_at

    @scoped_field("When it will be attempted next; null once it succeeded or failed for good.")
    def next_attempt_at(self) -> datetime | None:
        return self.row.next_attempt_at

    @scoped_field("When the event happened (the delivery was queued).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @scoped_field(
        "Every attempt made so far, oldest first (at most WEBHOOKS_MAX_ATTEMPTS).",
        WEBHOOKS_READ,
    )
    async def attempts(self, info: Info) -> list[WebhookDeliveryAttemptType]:
        loaders = info.context.workspace(self.workspace_id)
        rows = await loaders.delivery_attempts.load(pk(self.row))
        return [WebhookDeliveryAttemptType(row=r) for r in rows]


@strawberry.type(
    name="WebhookEndpoint",
    description="A URL of the partner's that receives the workspace's events, signed.",
)
class WebhookEndpointType(Node):
    row: strawberry.Private[tables.WebhookEndpoint]
    id: strawberry.ID = node_id("WebhookEndpoint")

    @classmethod
    def of(cls, row: tables.WebhookEndpoint) -> WebhookEndpointType:
        return cls(row=row, id=strawberry.ID(encode_id("WebhookEndpoint", pk(row))))

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("Where events are POSTed.")
    def url(self) -> str:
        return self.row.url

    @scoped_field("The event types it receives; empty: every type, those added later too.")
    def events(self) -> list[str]:
        return list(self.row.events)

    @scoped_field("A note for people.")
    def description(self) -> str:
        return self.row.description

    @scoped_field("False: no new event is queued for it and pending ones wait.")
    def enabled(self) -> bool:
        return self.row.enabled

    @scoped_field("Who registered it.")
    async def created_by(self, info: Info) -> UserType | None:
        return user_or_none(await info.context.users.load(self.row.created_by_user_id))

    @scoped_field("When it was registered.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @scoped_field("When it was last changed (its secret rotated included).")
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @scoped_field("Its deliveries, newest first (keyset-paged).", WEBHOOKS_READ)
    async def deliveries(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[WebhookDeliveryType] | None:
        webhooks, endpoint = info.context.repository(self.workspace_id).webhooks, pk(self.row)
        return await read_connection(
            webhooks,
            page_window(first, after, last, before, (int,), kind="WebhookDelivery"),
            lambda window: webhooks.deliveries_page(endpoint, window),
            lambda: webhooks.deliveries_count(endpoint),
            lambda page: [WebhookDeliveryType.of(d) for d in page.items],
            kind="WebhookDelivery",
        )


@strawberry.type
class WebhookFields:
    """Workspace fields: its webhook endpoints."""

    @property
    def workspace_id(self) -> int:  # provided by Workspace
        raise NotImplementedError

    @scoped_field(
        "Webhook endpoints of this workspace, oldest first (keyset-paged).", WEBHOOKS_READ
    )
    async def webhook_endpoints(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[WebhookEndpointType] | None:
        webhooks = info.context.repository(self.workspace_id).webhooks
        return await read_connection(
            webhooks,
            page_window(first, after, last, before, (int,), kind="WebhookEndpoint"),
            webhooks.endpoints_page,
            webhooks.endpoints_count,
            lambda page: [WebhookEndpointType.of(e) for e in page.items],
            kind="WebhookEndpoint",
        )


@strawberry.type(name="WebhookEventType", description="An event a webhook endpoint can receive.")
class WebhookEventTypeType:
    name: str = strawberry.field(description="The type, e.g. member.role_changed.")
    description: str = strawberry.field(description="What happened when it is sent.")


@strawberry.type
class WebhookEventTypeQueries:
    @strawberry.field(
        description=(
            "Every event type a webhook endpoint can subscribe to, by name "
            "(docs/partners.md#events). Needs no permission."
        )
    )
    def webhook_event_types(self) -> list[WebhookEventTypeType]:
        return [WebhookEventTypeType(name=n, description=d) for n, d in EVENT_TYPES.items()]
