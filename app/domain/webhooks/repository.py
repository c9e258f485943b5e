"""Reads of webhook endpoints and deliveries (one workspace at a time)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.types import column_of
from app.domain.bound import WorkspaceReads
from app.domain.pagination import Page, Window, count, fetch_page
from app.domain.tenant import scoped
from app.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint


async def endpoints_page(
    session: AsyncSession, workspace_id: int, window: Window
) -> Page[WebhookEndpoint]:
    """The workspace's endpoints, oldest first."""
    stmt = scoped(WebhookEndpoint, workspace_id)
    return await fetch_page(session, stmt, (column_of(WebhookEndpoint.id),), window)


async def endpoints_count(session: AsyncSession, workspace_id: int) -> int:
    return await count(session, scoped(WebhookEndpoint, workspace_id))


async def deliveries_page(
    session: AsyncSession, workspace_id: int, endpoint_id: int, window: Window
) -> Page[WebhookDelivery]:
    """An endpoint's deliveries, newest first."""
    stmt = scoped(WebhookDelivery, workspace_id).where(WebhookDelivery.endpoint_id == endpoint_id)
    return await fetch_page(
        session, stmt, (column_of(WebhookDelivery.id),), window, descending=True
    )


async def deliveries_count(session: AsyncSession, workspace_id: int, endpoint_id: int) -> int:
    stmt = scoped(WebhookDelivery, workspace_id).where(WebhookDelivery.endpoint_id == endpoint_id)
    return await count(session, stmt)


async def endpoint(
    session: AsyncSession, workspace_id: int, endpoint_id: int
) -> WebhookEndpoint | None:
    stmt = scoped(WebhookEndpoint, workspace_id).where(WebhookEndpoint.id == endpoint_id)
    return (await session.execute(stmt)).scalars().first()


async def delivery(
    session: AsyncSession, workspace_id: int, delivery_id: int
) -> WebhookDelivery | None:
    stmt = scoped(WebhookDelivery, workspace_id).where(WebhookDelivery.id == delivery_id)
    return (await session.execute(stmt)).scalars().first()


async def attempts_of(
    session: AsyncSession, workspace_id: int, delivery_ids: list[int]
) -> list[WebhookDeliveryAttempt]:
    """The attempts of these deliveries (one statement), each delivery's oldest first."""
    stmt = (
        scoped(WebhookDeliveryAttempt, workspace_id)
        .where(col(WebhookDeliveryAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(WebhookDeliveryAttempt.delivery_id), col(WebhookDeliveryAttempt.attempt))
    )
    return list((await session.execute(stmt)).scalars())


class WebhookRepository(WorkspaceReads):
    """The webhook endpoints and deliveries of the workspace it is bound to
    (``app.domain.bound``)."""

    __slots__ = ()

    async def endpoints_page(self, window: Window) -> Page[WebhookEndpoint]:
        return await self._in(endpoints_page, window)

    async def endpoints_count(self) -> int:
        return await self._in(endpoints_count)

    async def deliveries_page(self, endpoint_id: int, window: Window) -> Page[WebhookDelivery]:
        return await self._in(deliveries_page, endpoint_id, window)

    async def deliveries_count(self, endpoint_id: int) -> int:
        return await self._in(deliveries_count, endpoint_id)

    async def attempts_of(self, delivery_ids: list[int]) -> list[WebhookDeliveryAttempt]:
        return await self._in(attempts_of, delivery_ids)
