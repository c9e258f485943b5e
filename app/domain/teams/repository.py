"""Teams and team membership."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.db.prepared import Prepared, any_of
from app.db.rows import RowShape
from app.db.types import column_of
from app.domain.bound import WorkspaceReads
from app.domain.pagination import Page, Window, count, fetch_page
from app.domain.rows import TEAM_ROW
from app.domain.tenant import lean, rows_by_ids, scoped
from app.models import Team, TeamMember
from app.models.rows import TeamRow


class TeamOfMember(TeamRow, Protocol):
    """A team's columns with the member it was read for."""

    @property
    def member_id(self) -> int: ...


TEAM_OF_MEMBER = RowShape[TeamOfMember](TeamOfMember)

TEAM_ORDER = (column_of(Team.id),)


async def teams_page(session: AsyncSession, workspace_id: int, window: Window) -> Page[Team]:
    return await fetch_page(session, scoped(Team, workspace_id), TEAM_ORDER, window)


async def teams_count(session: AsyncSession, workspace_id: int) -> int:
    return await count(session, scoped(Team, workspace_id))


async def teams_by_ids(session: AsyncSession, workspace_id: int, ids: Sequence[int]) -> list[Team]:
    stmt = scoped(Team, workspace_id).where(col(Team.id).in_(ids))
    return list((await session.execute(stmt)).scalars())


_TEAM_ROWS = rows_by_ids(Team, TEAM_ROW)


async def team_rows_by_ids(
    session: AsyncSession, workspace_id: int, ids: Sequence[int]
) -> list[TeamRow]:
    """Teams as lean rows (attribute access only): the read path's loader."""
    return await _TEAM_ROWS.all(session, workspace_id=workspace_id, ids=list(ids))


# scope: lean() of a statement started from scoped(Team); add_columns takes the joined
#   TeamMember's column
def _teams_of_members(dialect: str) -> sa.Select[Any]:
    stmt = (
        scoped(Team, sa.bindparam("workspace_id", type_=sa.Integer))
        .join(
            TeamMember,
            sa.and_(
                col(TeamMember.workspace_id) == Team.workspace_id,
                col(TeamMember.team_id) == Team.id,
            ),
        )
        .where(any_of(dialect, column_of(TeamMember.member_id), "ids"))
        .order_by(col(Team.id))
    )
    # Lean rows: the team's columns plus member_id.
    return lean(stmt, Team).add_columns(col(TeamMember.member_id))


_TEAMS_OF_MEMBERS = Prepared("teams_of_members", _teams_of_members, TEAM_OF_MEMBER)


async def teams_of_members(
    session: AsyncSession, workspace_id: int, member_ids: Sequence[int]
) -> list[tuple[int, TeamRow]]:
    """(member_id, team) pairs, teams in id order; teams as lean rows (read path only)."""
    rows = await _TEAMS_OF_MEMBERS.all(session, workspace_id=workspace_id, ids=list(member_ids))
    return [(row.member_id, row) for row in rows]


class TeamRepository(WorkspaceReads):
    """The teams of the workspace it is bound to (``app.domain.bound``)."""

    __slots__ = ()

    async def page(self, window: Window) -> Page[Team]:
        return await self._in(teams_page, window)

    async def count(self) -> int:
        return await self._in(teams_count)

    async def rows_by_ids(self, ids: Sequence[int]) -> list[TeamRow]:
        return await self._in(team_rows_by_ids, ids)

    async def of_members(self, member_ids: Sequence[int]) -> list[tuple[int, TeamRow]]:
        return await self._in(teams_of_members, member_ids)
