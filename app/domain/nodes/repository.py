"""Lookups by primary key across the viewer's workspaces (for ``node``/``nodes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from app.db.types import id_column
from app.domain.tenant import among
from app.models import Member, User, Workspace

M = TypeVar("M", bound=SQLModel)


async def rows_among(
    session: AsyncSession, model: type[M], ids: Sequence[int], workspace_ids: Sequence[int]
) -> list[M]:
    """Rows of a tenant table with these ids, only from the given workspaces."""
    if not ids or not workspace_ids:
        return []
    stmt = among(model, workspace_ids).where(id_column(model).in_(list(ids)))
    return list((await session.execute(stmt)).scalars())


# scope: `workspaces` is keyed by its own id: only ids among the viewer's workspace_ids
async def workspaces_among(
    session: AsyncSession, ids: Sequence[int], workspace_ids: Sequence[int]
) -> list[Workspace]:
    wanted = sorted(set(ids) & set(workspace_ids))
    if not wanted:
        return []
    stmt = select(Workspace).where(col(Workspace.id).in_(wanted))
    return list((await session.execute(stmt)).scalars())


async def users_sharing(
    session: AsyncSession, ids: Sequence[int], workspace_ids: Sequence[int]
) -> list[User]:
    """Users among ``ids`` with a membership (any status) in one of ``workspace_ids``."""
    if not ids or not workspace_ids:
        return []
    members_there = (
        among(Member, workspace_ids)
        .where(col(Member.user_id).in_(list(ids)))
        .with_only_columns(col(Member.user_id))
    )
    stmt = select(User).where(col(User.id).in_(members_there))
    return list((await session.execute(stmt)).scalars())
