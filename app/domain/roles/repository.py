"""Roles and their granted permission strings."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.types import column_of
from app.domain.bound import WorkspaceReads
from app.domain.pagination import Page, Window, count, fetch_page
from app.domain.rows import ROLE_ROW
from app.domain.tenant import rows_by_ids, scoped
from app.models import Role, RolePermission
from app.models.rows import RoleRow

ROLE_ORDER = (column_of(Role.id),)


async def roles_page(session: AsyncSession, workspace_id: int, window: Window) -> Page[Role]:
    return await fetch_page(session, scoped(Role, workspace_id), ROLE_ORDER, window)


async def roles_count(session: AsyncSession, workspace_id: int) -> int:
    return await count(session, scoped(Role, workspace_id))


async def roles_by_ids(session: AsyncSession, workspace_id: int, ids: Sequence[int]) -> list[Role]:
    stmt = scoped(Role, workspace_id).where(col(Role.id).in_(ids))
    return list((await session.execute(stmt)).scalars())


_ROLE_ROWS = rows_by_ids(Role, ROLE_ROW)


async def role_rows_by_ids(
    session: AsyncSession, workspace_id: int, ids: Sequence[int]
) -> list[RoleRow]:
    """Roles as lean rows (attribute access only): the read path's loader."""
    return await _ROLE_ROWS.all(session, workspace_id=workspace_id, ids=list(ids))


# scope: filters by (workspace_id, role_id) pairs
async def granted_permissions(
    session: AsyncSession, pairs: Sequence[tuple[int, int]]
) -> dict[int, list[str]]:
    """Stored permission strings of roles, given as (workspace_id, role_id) pairs.

    Pairs rather than bare ids so one statement can serve the viewer's roles in
    several workspaces without ever matching a role of another workspace.
    """
    if not pairs:
        return {}
    stmt = (
        sa.select(col(RolePermission.role_id), col(RolePermission.permission))
        .where(sa.tuple_(RolePermission.workspace_id, RolePermission.role_id).in_(pairs))
        .order_by(col(RolePermission.role_id), col(RolePermission.permission))
    )
    out: dict[int, list[str]] = {}
    for role_id, permission in (await session.execute(stmt)).all():
        out.setdefault(role_id, []).append(permission)
    return out


class RoleRepository(WorkspaceReads):
    """The roles of the workspace it is bound to (``app.domain.bound``)."""

    __slots__ = ()

    async def page(self, window: Window) -> Page[Role]:
        return await self._in(roles_page, window)

    async def count(self) -> int:
        return await self._in(roles_count)

    async def rows_by_ids(self, ids: Sequence[int]) -> list[RoleRow]:
        return await self._in(role_rows_by_ids, ids)

    async def permissions(self, role_ids: Sequence[int]) -> dict[int, list[str]]:
        """The stored permission strings of these roles, by role id."""
        if not role_ids:
            return {}  # no statement
        ws = self.workspace_id
        return await self._run(granted_permissions, [(ws, r) for r in role_ids])
