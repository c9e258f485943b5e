"""Workspaces and their one-to-one / small-list settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db.prepared import Prepared
from app.db.rows import RowShape
from app.db.types import column_of, table_of, utcnow
from app.domain.bound import WorkspaceReads
from app.domain.pagination import Page, Window, count, fetch_page
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
from app.models.rows import AIProviderRow


class Handbook(Protocol):
    @property
    def handbook(self) -> str: ...


class ProviderSetting(AIProviderRow, Protocol):
    """A provider's columns (all None where the workspace has none: the workspace's
    own row) with the workspace's default model."""

    @property
    def default_model(self) -> str | None: ...


class ProviderSettingWithHandbook(ProviderSetting, Handbook, Protocol):
    pass


HANDBOOK = RowShape[Handbook](Handbook)
PROVIDER_SETTING = RowShape[ProviderSetting](ProviderSetting)
PROVIDER_SETTING_WITH_HANDBOOK = RowShape[ProviderSettingWithHandbook](ProviderSettingWithHandbook)


# scope: `workspaces` is keyed by its own id: callers pass the workspace of the request
async def workspaces_by_ids(session: AsyncSession, ids: Sequence[int]) -> list[Workspace]:
    stmt = select(Workspace).where(col(Workspace.id).in_(ids)).order_by(col(Workspace.id))
    return list((await session.execute(stmt)).scalars())


# scope: operator paths (creating a workspace, seeding): no viewer, a slug is unique
async def workspace_by_slug(session: AsyncSession, slug: str) -> Workspace | None:
    """Any workspace with this slug (operator paths: creating one, seeding)."""
    stmt = select(Workspace).where(Workspace.slug == slug)
    return (await session.execute(stmt)).scalars().first()


_WORKSPACE_ID = sa.bindparam("workspace_id", type_=sa.Integer)

# scope: `workspaces` is keyed by its own id: the row whose id is :workspace_id
_HANDBOOK = Prepared(
    "handbook_of",
    lambda _: sa.select(col(Workspace.handbook)).where(col(Workspace.id) == _WORKSPACE_ID),
    HANDBOOK,
)


# scope: every table joins on workspace_id = :workspace_id (the subquery w); `workspaces`
#   is keyed by its own id
def _settings(handbook: bool) -> Callable[[str], sa.Select[Any]]:
    def build(_dialect: str) -> sa.Select[Any]:
        # One row per provider (at least one row: the workspace itself), each carrying
        # the default model (and the handbook): the pages' parts in one statement.
        workspace = sa.select(_WORKSPACE_ID.label("workspace_id")).subquery("w")
        stmt: sa.Select[Any] = (
            sa.select(col(IntelligenceSettings.default_model), *table_of(AIProvider).columns)
            .select_from(workspace)
            .outerjoin(
                IntelligenceSettings,
                col(IntelligenceSettings.workspace_id) == workspace.c.workspace_id,
            )
            .outerjoin(AIProvider, col(AIProvider.workspace_id) == workspace.c.workspace_id)
            .order_by(col(AIProvider.provider))
        )
        if handbook:
            stmt = stmt.add_columns(col(Workspace.handbook)).outerjoin(
                Workspace, col(Workspace.id) == workspace.c.workspace_id
            )
        return stmt

    return build


_INTELLIGENCE = Prepared("intelligence_settings_page", _settings(handbook=False), PROVIDER_SETTING)
_SETTINGS = Prepared("settings_pages", _settings(handbook=True), PROVIDER_SETTING_WITH_HANDBOOK)


@dataclass(frozen=True, slots=True)
class SettingsPages:
    """What the settings pages read beyond the workspace row (None: not read)."""

    handbook: str | None = None
    default_model: str | None = None
    providers: list[AIProviderRow] | None = None  # lean rows, by provider key


async def settings_pages(
    session: AsyncSession, workspace_id: int, *, handbook: bool, intelligence: bool
) -> SettingsPages:
    """The handbook (General) and the default model with the providers (Intelligence),
    whichever are asked for, in one statement."""
    if not intelligence:
        row = await _HANDBOOK.first(session, workspace_id=workspace_id)
        assert row is not None, "the viewer's workspace exists"
        return SettingsPages(handbook=str(row.handbook))
    text = None
    rows: Sequence[ProviderSetting]
    if handbook:
        rows = with_handbook = await _SETTINGS.all(session, workspace_id=workspace_id)
        assert rows, "one row at least: the workspace itself"
        text = str(with_handbook[0].handbook)
    else:
        rows = await _INTELLIGENCE.all(session, workspace_id=workspace_id)
        assert rows, "one row at least: the workspace itself"
    return SettingsPages(
        handbook=text,
        default_model=rows[0].default_model,
        providers=[r for r in rows if r.id is not None],
    )


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
    stmt = scoped(ApiKey, workspace_id).order_by(col(ApiKey.id).desc())
    return list((await session.execute(stmt)).scalars())


async def api_keys_page(session: AsyncSession, workspace_id: int, window: Window) -> Page[ApiKey]:
    """The workspace's API keys, newest first."""
    return await fetch_page(
        session, scoped(ApiKey, workspace_id), (column_of(ApiKey.id),), window, descending=True
    )


async def api_keys_count(session: AsyncSession, workspace_id: int) -> int:
    return await count(session, scoped(ApiKey, workspace_id))


async def share_link_by_token(
    session: AsyncSession, token: str, among: Sequence[int]
) -> ShareLink | None:
    """A share link, only among the given workspaces (the viewer's), unless it has
    expired: an expired link answers like one that does not exist (a revoked one is
    deleted)."""
    stmt = among_workspaces(ShareLink, among).where(
        ShareLink.token == token,
        sa.or_(col(ShareLink.expires_at).is_(None), col(ShareLink.expires_at) > utcnow()),
    )
    return (await session.execute(stmt)).scalars().first()


class SettingsRepository(WorkspaceReads):
    """The settings pages, plan, integrations and API keys of the workspace it is bound
    to (``app.domain.bound``)."""

    __slots__ = ()

    async def pages(self, *, handbook: bool, intelligence: bool) -> SettingsPages:
        return await self._in(settings_pages, handbook=handbook, intelligence=intelligence)

    async def subscription(self) -> Subscription | None:
        return await self._in(subscription)

    async def integrations(self) -> list[Integration]:
        return await self._in(integrations)

    async def api_keys(self) -> list[ApiKey]:
        return await self._in(api_keys_of)

    async def api_keys_page(self, window: Window) -> Page[ApiKey]:
        return await self._in(api_keys_page, window)

    async def api_keys_count(self) -> int:
        return await self._in(api_keys_count)
