"""The write side of roles."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.tenant import scoped, scoped_delete
from app.models import BuiltinRole, Role, RolePermission


async def builtin_role(session: AsyncSession, workspace_id: int, builtin: BuiltinRole) -> Role:
    stmt = scoped(Role, workspace_id).where(Role.builtin == builtin)
    return (await session.execute(stmt)).scalars().one()


async def role_named(session: AsyncSession, workspace_id: int, name: str) -> Role | None:
    stmt = scoped(Role, workspace_id).where(sa.func.lower(Role.name) == name.lower())
    return (await session.execute(stmt)).scalars().first()


async def set_permissions(
    session: AsyncSession, workspace_id: int, role_id: int, permissions: Sequence[str]
) -> None:
    await session.execute(
        scoped_delete(RolePermission, workspace_id).where(col(RolePermission.role_id) == role_id)
    )
    session.add_all(
        RolePermission(workspace_id=workspace_id, role_id=role_id, permission=p)
        for p in permissions
    )
