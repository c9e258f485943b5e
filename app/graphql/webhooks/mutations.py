"""createWebhookEndpoint, updateWebhookEndpoint, deleteWebhookEndpoint,
rotateWebhookSecret, redeliverWebhook."""

from __future__ import annotations

import strawberry

from app.domain.webhooks import service
from app.graphql.context import Info
from app.graphql.mutation import WORKSPACE, Payload, Target, change, mutation
from app.graphql.webhooks.types import WebhookDeliveryType, WebhookEndpointType

ENDPOINT = Target("WebhookEndpoint", "webhook_endpoint_id", missing=service.endpoint_not_found)
DELIVERY = Target("WebhookDelivery", "delivery_id", missing=service.delivery_not_found)

EVENTS_DESCRIPTION = (
    'Event types to receive, e.g. ["member.added", "member.role_changed"] '
    "(docs/partners.md#events lists them); empty: every type, those added later too."
)
SHOWN_ONCE = (
    "The signing secret (whsec_…), shown here once and never again: verify each "
    "delivery's webhook-signature with it (Standard Webhooks)."
)


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    workspace_id: strawberry.ID = strawberry.field(
        description="The Workspace whose events it receives."
    )
    url: str = strawberry.field(
        description=(
            "Where events are POSTed: an https:// URL whose host resolves to public addresses "
            "(in development http:// and loopback are accepted too); at most 2048 characters."
        )
    )
    events: list[str] = strawberry.field(default_factory=list, description=EVENTS_DESCRIPTION)
    description: str = strawberry.field(
        default="", description="A note for people, up to 500 characters."
    )


@strawberry.input(description="Changes to a webhook endpoint; omitted fields stay as they are.")
class UpdateWebhookEndpointInput:
    webhook_endpoint_id: strawberry.ID = strawberry.field(description="The WebhookEndpoint.")
    url: str | None = strawberry.field(
        default=None, description="A new URL (same rules as at creation)."
    )
    events: list[str] | None = strawberry.field(default=None, description=EVENTS_DESCRIPTION)
    description: str | None = strawberry.field(default=None, description="A new note.")
    enabled: bool | None = strawberry.field(
        default=None,
        description="False pauses it: no new event is queued for it and pending ones wait.",
    )


@strawberry.input(description="Names the webhook endpoint.")
class WebhookEndpointInput:
    webhook_endpoint_id: strawberry.ID = strawberry.field(description="The WebhookEndpoint.")


@strawberry.input(description="Names the delivery to send again.")
class RedeliverWebhookInput:
    delivery_id: strawberry.ID = strawberry.field(description="The WebhookDelivery.")


@strawberry.type(description="Result of createWebhookEndpoint. The secret is shown here once.")
class CreateWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpointType | None = strawberry.field(
        default=None, description="The new endpoint."
    )
    secret: str | None = strawberry.field(default=None, description=SHOWN_ONCE)


@strawberry.type(description="Result of updateWebhookEndpoint.")
class UpdateWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpointType | None = strawberry.field(
        default=None, description="The endpoint as changed."
    )


@strawberry.type(description="Result of deleteWebhookEndpoint.")
class DeleteWebhookEndpointPayload(Payload):
    deleted_webhook_endpoint_id: strawberry.ID | None = strawberry.field(
        default=None, description="The ID of the endpoint deleted."
    )


@strawberry.type(description="Result of rotateWebhookSecret. The new secret is shown here once.")
class RotateWebhookSecretPayload(Payload):
    webhook_endpoint: WebhookEndpointType | None = strawberry.field(
        default=None, description="The endpoint."
    )
    secret: str | None = strawberry.field(
        default=None,
        description=(
            "The new signing secret (whsec_…), shown here once. It signs every delivery from "
            "now on, retries included; the old one stops at once."
        ),
    )


@strawberry.type(description="Result of redeliverWebhook.")
class RedeliverWebhookPayload(Payload):
    delivery: WebhookDeliveryType | None = strawberry.field(
        default=None,
        description="The new delivery of the same event (same eventId and body), due at once.",
    )


@strawberry.type
class WebhookMutations:
    @mutation(
        "Register a webhook endpoint: the workspace's events are POSTed to it, signed.",
        permission="webhooks:create:all",
        target=WORKSPACE,
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointPayload:
        production = info.context.settings.is_production
        endpoint, secret = await change(
            info,
            lambda s, actor, ws, _: service.create_endpoint(
                s,
                ws,
                actor,
                url=input.url,
                events=input.events,
                description=input.description,
                production=production,
            ),
        )
        return CreateWebhookEndpointPayload(
            webhook_endpoint=WebhookEndpointType.of(endpoint), secret=secret
        )

    @mutation(
        "Change a webhook endpoint's URL, events, description, or pause and resume it.",
        permission="webhooks:update:all",
        target=ENDPOINT,
    )
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointPayload:
        production = info.context.settings.is_production
        endpoint = await change(
            info,
            lambda s, actor, ws, endpoint_id: service.update_endpoint(
                s,
                ws,
                actor,
                endpoint_id,
                url=input.url,
                events=input.events,
                description=input.description,
                enabled=input.enabled,
                production=production,
            ),
        )
        return UpdateWebhookEndpointPayload(webhook_endpoint=WebhookEndpointType.of(endpoint))

    @mutation(
        "Delete a webhook endpoint: nothing more is sent to it, pending deliveries included.",
        permission="webhooks:delete:all",
        target=ENDPOINT,
    )
    async def delete_webhook_endpoint(
        self, info: Info, input: WebhookEndpointInput
    ) -> DeleteWebhookEndpointPayload:
        await change(
            info,
            lambda s, actor, ws, endpoint_id: service.delete_endpoint(s, ws, actor, endpoint_id),
        )
        return DeleteWebhookEndpointPayload(deleted_webhook_endpoint_id=input.webhook_endpoint_id)

    @mutation(
        "Give a webhook endpoint a new signing secret (returned once); the old one stops at once.",
        permission="webhooks:update:all",
        target=ENDPOINT,
    )
    async def rotate_webhook_secret(
        self, info: Info, input: WebhookEndpointInput
    ) -> RotateWebhookSecretPayload:
        endpoint, secret = await change(
            info,
            lambda s, actor, ws, endpoint_id: service.rotate_secret(s, ws, actor, endpoint_id),
        )
        return RotateWebhookSecretPayload(
            webhook_endpoint=WebhookEndpointType.of(endpoint), secret=secret
        )

    @mutation(
        "Send a delivery's event again (a new delivery, attempted at once, same eventId).",
        permission="webhooks:update:all",
        target=DELIVERY,
    )
    async def redeliver_webhook(
        self, info: Info, input: RedeliverWebhookInput
    ) -> RedeliverWebhookPayload:
        delivery = await change(
            info, lambda s, actor, ws, delivery_id: service.redeliver(s, ws, actor, delivery_id)
        )
        return RedeliverWebhookPayload(delivery=WebhookDeliveryType.of(delivery))
