"""Memberships: every statement is bounded to one workspace, except the viewer's own
memberships, which are read by user id to learn which workspaces they may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer
from sqlmodel import select

from app.domain.pagination import Page, count, fetch_page
from app.domain.tenant import lean, scoped
from app.models import Member, MemberStatus, Role, RolePermission, TeamMember, User, Workspace

MEMBER_ORDER = (Member.id,)


@dataclass(frozen=True, slots=True)
class MemberFilter:
    status: MemberStatus | None = None
    role_id: int | None = None
    team_id: int | None = None
    search: str | None = None  # case-insensitive substring of the user's name or email


def _json_list(session: AsyncSession, column: Any) -> Any:
    """An aggregate of ``column`` as a JSON list, in the engine's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.json_agg(column, type_=sa.JSON)
    return sa.func.json_group_array(column, type_=sa.JSON)


async def memberships_of_user(
    session: AsyncSession, user_id: int
) -> list[tuple[Member, Role, Workspace, frozenset[int], list[str]]]:
    """The user's ACTIVE memberships across workspaces, each with its role, its
    workspace (without the handbook, which can be long), its team ids and the role's
    stored permission strings. One statement: teams and permissions are aggregated
    per membership."""
    team_ids = (
        sa.select(_json_list(session, TeamMember.team_id))
        .where(TeamMember.workspace_id == Member.workspace_id, TeamMember.member_id == Member.id)
        .scalar_subquery()
    )
    permissions = (
        sa.select(_json_list(session, RolePermission.permission))
        .where(RolePermission.workspace_id == Role.workspace_id, RolePermission.role_id == Role.id)
        .scalar_subquery()
    )
    stmt = (
        select(Member, Role, Workspace, team_ids, permissions)
        .join(Role, sa.and_(Role.workspace_id == Member.workspace_id, Role.id == Member.role_id))
        .join(Workspace, Workspace.id == Member.workspace_id)
        .options(defer(Workspace.handbook, raiseload=True))
        .where(Member.user_id == user_id, Member.status == MemberStatus.ACTIVE)
        .order_by(Member.workspace_id)
    )
    return [
        (member, role, workspace, frozenset(teams or ()), sorted(granted or ()))
        for member, role, workspace, teams, granted in (await session.execute(stmt)).all()
    ]


async def user_and_workspace_ids(
    session: AsyncSession, user_id: int
) -> tuple[User | None, list[int]]:
    """The account and the workspaces where it holds an ACTIVE membership (ascending),
    in one statement.

    Authentication asks this before any tenant context exists. On PostgreSQL row-level
    security would hide every membership then, so the ids come from
    ``harmony_viewer_workspace_ids``, a SECURITY DEFINER function of migration 0002
    that returns these ids and nothing else.
    """
    if session.get_bind().dialect.name == "postgresql":
        ids: Any = sa.func.harmony_viewer_workspace_ids(User.id, type_=sa.ARRAY(sa.Integer))
    else:
        ids = (
            sa.select(_json_list(session, Member.workspace_id))
            .where(Member.user_id == User.id, Member.status == MemberStatus.ACTIVE)
            .scalar_subquery()
        )
    row = (await session.execute(select(User, ids).where(User.id == user_id))).first()
    if row is None:
        return None, []
    return row[0], sorted(row[1] or ())


def _filtered(workspace_id: int, f: MemberFilter) -> sa.Select[tuple[Member]]:
    stmt = scoped(Member, workspace_id)
    if f.status is not None:
        stmt = stmt.where(Member.status == f.status)
    if f.role_id is not None:
        stmt = stmt.where(Member.role_id == f.role_id)
    if f.team_id is not None:
        stmt = stmt.where(
            sa.exists().where(
                TeamMember.workspace_id == workspace_id,
                TeamMember.team_id == f.team_id,
                TeamMember.member_id == Member.id,
            )
        )
    if f.search:
        pattern = (
            "%"
            + f.search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        stmt = stmt.join(User, User.id == Member.user_id).where(
            sa.or_(
                sa.func.lower(User.name).like(pattern, escape="\\"),
                sa.func.lower(User.email).like(pattern, escape="\\"),
            )
        )
    return stmt


async def members_page(
    session: AsyncSession,
    workspace_id: int,
    f: MemberFilter,
    *,
    first: int,
    after: tuple[int, ...] | None,
) -> Page[Member]:
    return await fetch_page(
        session, lean(_filtered(workspace_id, f), Member), MEMBER_ORDER, first=first, after=after
    )


async def members_count(session: AsyncSession, workspace_id: int, f: MemberFilter) -> int:
    return await count(session, _filtered(workspace_id, f))


async def members_by_ids(
    session: AsyncSession, workspace_id: int, ids: Sequence[int]
) -> list[Member]:
    stmt = scoped(Member, workspace_id).where(Member.id.in_(ids))
    return list((await session.execute(stmt)).scalars())


async def member_counts_by_role(
    session: AsyncSession, workspace_id: int, role_ids: Sequence[int]
) -> dict[int, int]:
    """Members holding each role (any status)."""
    stmt = (
        scoped(Member, workspace_id)
        .with_only_columns(Member.role_id, sa.func.count())
        .where(Member.role_id.in_(role_ids))
        .group_by(Member.role_id)
    )
    return {role_id: n for role_id, n in (await session.execute(stmt)).all()}


async def members_pages_of_teams(
    session: AsyncSession,
    workspace_id: int,
    team_ids: Sequence[int],
    *,
    first: int,
    after: tuple[int, ...] | None,
) -> dict[int, Page[Member]]:
    """One page of members (in MEMBER_ORDER) for each team, all in one statement: a
    window function numbers each team's members and keeps ``first + 1`` of each, so a
    page of teams with their members costs the same whatever the number of teams."""
    rank = (
        sa.func.row_number()
        .over(partition_by=TeamMember.team_id, order_by=Member.id)
        .label("rank_in_team")
    )
    inner = (
        scoped(Member, workspace_id)
        .join(
            TeamMember,
            sa.and_(
                TeamMember.workspace_id == Member.workspace_id, TeamMember.member_id == Member.id
            ),
        )
        .where(TeamMember.team_id.in_(team_ids))
        .add_columns(TeamMember.team_id.label("in_team"), rank)
    )
    if after is not None:
        (after_id,) = after  # MEMBER_ORDER is (Member.id,)
        inner = inner.where(TeamMember.member_id > after_id)  # = Member.id (the join)
    ranked = inner.subquery()
    member = aliased(Member, ranked)
    stmt = (
        sa.select(member, ranked.c.in_team)
        .where(ranked.c.rank_in_team <= first + 1)
        .order_by(ranked.c.in_team, ranked.c.rank_in_team)
    )
    rows: dict[int, list[Member]] = {t: [] for t in team_ids}
    for row, team_id in (await session.execute(stmt)).all():
        rows[team_id].append(row)
    return {
        team_id: Page(
            items=found[:first],
            keys=[(m.id,) for m in found[:first]],
            has_next=len(found) > first,
        )
        for team_id, found in rows.items()
    }


async def member_counts_of_teams(
    session: AsyncSession, workspace_id: int, team_ids: Sequence[int]
) -> dict[int, int]:
    """How many members each team has (any status), in one statement."""
    stmt = (
        scoped(TeamMember, workspace_id)
        .with_only_columns(TeamMember.team_id, sa.func.count())
        .where(TeamMember.team_id.in_(team_ids))
        .group_by(TeamMember.team_id)
    )
    return {team_id: n for team_id, n in (await session.execute(stmt)).all()}
