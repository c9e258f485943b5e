"""The outbox: one delivery row per event per subscribed endpoint, added by
``record_change`` in the transaction of the change. A change that rolls back takes its
rows with it (nothing is sent); one that commits is delivered even if the process dies
the moment after (the worker finds the rows)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.types import utcnow
from app.domain.tenant import scoped
from app.domain.webhooks.events import new_event_id, render
from app.models import WebhookDelivery, WebhookEndpoint, pk


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """Whether the endpoint receives events of this type (an empty list: every type)."""
    return not endpoint.events or event_type in endpoint.events


async def enqueue(
    session: AsyncSession,
    workspace_id: int,
    action: str,
    target: tuple[str, int],
    summary: Mapping[str, object],
    *,
    actor_user_id: int | None,
    actor_api_key_id: int | None,
) -> None:
    """Add the deliveries of the event ``action`` sends, if any, to the session. One
    indexed statement when the workspace has no enabled endpoint."""
    stmt = scoped(WebhookEndpoint, workspace_id).where(col(WebhookEndpoint.enabled).is_(True))
    endpoints = list((await session.execute(stmt.order_by(col(WebhookEndpoint.id)))).scalars())
    if not endpoints:
        return
    now = utcnow()
    rendered = render(
        action,
        at=now,
        workspace_id=workspace_id,
        target_type=target[0],
        target_id=target[1],
        actor_user_id=actor_user_id,
        actor_api_key_id=actor_api_key_id,
        summary=summary,
    )
    if rendered is None:
        return
    event_type, body = rendered
    event_id = new_event_id()
    for endpoint in endpoints:
        if subscribed(endpoint, event_type):
            session.add(
                WebhookDelivery(
                    workspace_id=workspace_id,
                    endpoint_id=pk(endpoint),
                    event_id=event_id,
                    event_type=event_type,
                    payload=body,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
