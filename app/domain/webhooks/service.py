"""Webhook endpoints: registered, changed, deleted, their secrets rotated, a delivery
queued again. Each change is audited (``webhook_endpoint.*``; these send no webhook)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.types import utcnow
from app.domain.actor import Actor
from app.domain.changes import record_change
from app.domain.errors import Checks, Refusal, Refusals, UserErrorCode
from app.domain.validation import check_text
from app.domain.webhooks import repository, secrets
from app.domain.webhooks.events import EVENT_TYPES
from app.domain.webhooks.urls import UnsafeURLError, check_url
from app.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint

DESCRIPTION_MAX = 500
MAX_EVENTS = len(EVENT_TYPES)


def endpoint_not_found() -> Refusal:
    return Refusal(
        UserErrorCode.NOT_FOUND,
        "No such webhook endpoint in this workspace.",
        ["input", "webhookEndpointId"],
    )


def delivery_not_found() -> Refusal:
    return Refusal(
        UserErrorCode.NOT_FOUND,
        "No such webhook delivery in this workspace.",
        ["input", "deliveryId"],
    )


async def _url(url: str, production: bool) -> str:
    url = url.strip()
    try:
        await check_url(url, production=production)
    except UnsafeURLError as exc:
        raise Refusal(UserErrorCode.INVALID_URL, str(exc), ["input", "url"]) from exc
    return url


def _events(events: Sequence[str]) -> list[str]:
    """The event types, each once, in order; every unknown one refused at its index."""
    unknown = [
        Refusal(
            UserErrorCode.INVALID_VALUE,
            f"Unknown event type {event[:64]!r}: see docs/partners.md#events.",
            ["input", "events", i],
        )
        for i, event in enumerate(events)
        if event not in EVENT_TYPES
    ]
    if unknown:
        raise Refusals(unknown)
    return sorted(set(events))


def _summary(endpoint: WebhookEndpoint) -> dict[str, object]:
    return {"url": endpoint.url, "events": list(endpoint.events), "enabled": endpoint.enabled}


async def create_endpoint(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    *,
    url: str,
    events: Sequence[str],
    description: str,
    production: bool,
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret (returned once)."""
    checks = Checks()
    chosen = checks.run(_events, events) or []
    description = checks.value(
        check_text, description, "description", DESCRIPTION_MAX, required=False
    )
    url = await checks.run_async(_url, url, production) or url
    checks.done()
    secret = secrets.new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id,
        url=url,
        events=chosen,
        description=description,
        secret_sealed=secrets.seal(secret, workspace_id),
        created_by_user_id=actor.user_id,
    )
    session.add(endpoint)
    await record_change(
        session, actor, workspace_id, "webhook_endpoint.created", endpoint, _summary(endpoint)
    )
    return endpoint, secret


async def find_endpoint(
    session: AsyncSession, workspace_id: int, endpoint_id: int
) -> WebhookEndpoint:
    found = await repository.endpoint(session, workspace_id, endpoint_id)
    if found is None:
        raise endpoint_not_found()
    return found


async def update_endpoint(
    session: AsyncSession,
    workspace_id: int,
    actor: Actor,
    endpoint_id: int,
    *,
    url: str | None,
    events: Sequence[str] | None,
    description: str | None,
    enabled: bool | None,
    production: bool,
) -> WebhookEndpoint:
    endpoint = await find_endpoint(session, workspace_id, endpoint_id)
    before = _summary(endpoint)
    checks = Checks()
    chosen = None if events is None else checks.run(_events, events)
    if description is not None:
        description = checks.value(
            check_text, description, "description", DESCRIPTION_MAX, required=False
        )
    checked_url = None if url is None else await checks.run_async(_url, url, production)
    checks.done()
    if chosen is not None:
        endpoint.events = chosen
    if description is not None:
        endpoint.description = description
    if checked_url is not None:
        endpoint.url = checked_url
    if enabled is not None:
        endpoint.enabled = enabled
    after = _summary(endpoint)
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    if changed or description is not None:
        endpoint.updated_at = utcnow()
        session.add(endpoint)
        await record_change(
            session, actor, workspace_id, "webhook_endpoint.updated", endpoint, changed
        )
    return endpoint


async def delete_endpoint(
    session: AsyncSession, workspace_id: int, actor: Actor, endpoint_id: int
) -> int:
    """Delete the endpoint; its deliveries go with it (pending ones are never sent)."""
    endpoint = await find_endpoint(session, workspace_id, endpoint_id)
    summary = _summary(endpoint)
    await session.delete(endpoint)
    await session.flush()
    await record_change(
        session,
        actor,
        workspace_id,
        "webhook_endpoint.deleted",
        ("WebhookEndpoint", endpoint_id),
        summary,
    )
    return endpoint_id


async def rotate_secret(
    session: AsyncSession, workspace_id: int, actor: Actor, endpoint_id: int
) -> tuple[WebhookEndpoint, str]:
    """A new secret (returned once) signs every delivery from now on, retries included;
    the old one stops at once."""
    endpoint = await find_endpoint(session, workspace_id, endpoint_id)
    secret = secrets.new_secret()
    endpoint.secret_sealed = secrets.seal(secret, workspace_id)
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    await record_change(
        session, actor, workspace_id, "webhook_endpoint.secret_rotated", endpoint, {}
    )
    return endpoint, secret


async def redeliver(
    session: AsyncSession, workspace_id: int, actor: Actor, delivery_id: int
) -> WebhookDelivery:
    """Queue a delivery's event again, as a new delivery (same event id and body: a
    receiver that handled it already can tell), attempted at once."""
    original = await repository.delivery(session, workspace_id, delivery_id)
    if original is None:
        raise delivery_not_found()
    now = utcnow()
    again = WebhookDelivery(
        workspace_id=workspace_id,
        endpoint_id=original.endpoint_id,
        event_id=original.event_id,
        event_type=original.event_type,
        payload=original.payload,
        status=WebhookDeliveryStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(again)
    await record_change(
        session,
        actor,
        workspace_id,
        "webhook_delivery.redelivered",
        again,
        {"eventId": original.event_id, "eventType": original.event_type},
    )
    return again
