"""Teams and team membership."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.pagination import Page, count, fetch_page
from app.domain.tenant import lean, one_of, scoped
from app.models import Team, TeamMember

TEAM_ORDER = (Team.id,)


async def teams_page(
    session: AsyncSession, workspace_id: int, *, first: int, after: tuple[int, ...] | None
) -> Page[Team]:
    return await fetch_page(
        session, scoped(Team, workspace_id), TEAM_ORDER, first=first, after=after
    )


async def teams_count(session: AsyncSession, workspace_id: int) -> int:
    return await count(session, scoped(Team, workspace_id))


async def teams_by_ids(session: AsyncSession, workspace_id: int, ids: Sequence[int]) -> list[Team]:
    stmt = scoped(Team, workspace_id).where(Team.id.in_(ids))
    return list((await session.execute(stmt)).scalars())


async def teams_of_members(
    session: AsyncSession, workspace_id: int, member_ids: Sequence[int]
) -> list[tuple[int, Any]]:
    """(member_id, team) pairs, teams in id order."""
    stmt = (
        scoped(Team, workspace_id)
        .join(
            TeamMember,
            sa.and_(TeamMember.workspace_id == Team.workspace_id, TeamMember.team_id == Team.id),
        )
        .where(one_of(session, TeamMember.member_id, member_ids))
        .order_by(Team.id)
    )
    # Lean rows (the team's columns plus member_id): read path only.
    stmt = lean(stmt, Team).add_columns(TeamMember.member_id)
    return [(row.member_id, row) for row in (await session.execute(stmt)).all()]
