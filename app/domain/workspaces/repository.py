"""Workspaces and their one-to-one / small-list settings."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.domain.tenant import among as among_workspaces
from app.domain.tenant import scoped
from app.models import (
    AIProvider,
    ApiKey,
    Integration,
    IntelligenceSettings,
    ShareLink,
    Subscription,
    Workspace,
)


async def workspaces_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Workspace]:
    stmt = select(Workspace).where(Workspace.id.in_(ids)).order_by(Workspace.id)
    return list((await session.execute(stmt)).scalars())


async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    """Any workspace with this slug (operator paths: creating one, seeding)."""
    stmt = select(Workspace).where(Workspace.slug == slug)
    return (await session.execute(stmt)).scalars().first()


async def handbook_of(session: AsyncSession, workspace_id: int) -> str:
    stmt = select(Workspace.handbook).where(Workspace.id == workspace_id)
    return (await session.execute(stmt)).scalar_one()


async def intelligence_settings(
    session: AsyncSession, workspace_id: int
) -> IntelligenceSettings | None:
    return (await session.execute(scoped(IntelligenceSettings, workspace_id))).scalars().first()


async def ai_providers(session: AsyncSession, workspace_id: int) -> list[AIProvider]:
    stmt = scoped(AIProvider, workspace_id).order_by(AIProvider.provider)
    return list((await session.execute(stmt)).scalars())


async def subscription(session: AsyncSession, workspace_id: int) -> Subscription | None:
    return (await session.execute(scoped(Subscription, workspace_id))).scalars().first()


async def integration_by_provider(
    session: AsyncSession, workspace_id: int, provider: str
) -> Integration | None:
    stmt = scoped(Integration, workspace_id).where(Integration.provider == provider)
    return (await session.execute(stmt)).scalars().first()


async def integrations(session: AsyncSession, workspace_id: int) -> list[Integration]:
    stmt = scoped(Integration, workspace_id).order_by(Integration.provider)
    return list((await session.execute(stmt)).scalars())


async def api_keys_of(session: AsyncSession, workspace_id: int) -> list[ApiKey]:
    stmt = scoped(ApiKey, workspace_id).order_by(ApiKey.id.desc())
    return list((await session.execute(stmt)).scalars())


async def share_link_by_token(
    session: AsyncSession, token: str, among: Sequence[int]
) -> ShareLink | None:
    """A share link, only among the given workspaces (the viewer's)."""
    stmt = among_workspaces(ShareLink, among).where(ShareLink.token == token)
    return (await session.execute(stmt)).scalars().first()
