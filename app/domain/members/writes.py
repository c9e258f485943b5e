"""The write side of members: the statements only changes need."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db.types import id_column
from app.domain.tenant import scoped, scoped_delete
from app.models import BuiltinRole, Member, MemberStatus, Role, TeamMember, User, UserStatus


async def member_of_user(session: AsyncSession, workspace_id: int, user_id: int) -> Member | None:
    stmt = scoped(Member, workspace_id).where(Member.user_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def active_admin_member_ids(session: AsyncSession, workspace_id: int) -> list[int]:
    """Members that count for the last-admin rule: ACTIVE membership, Admin role,
    ACTIVE account."""
    stmt = (
        scoped(Member, workspace_id)
        .join(
            Role,
            sa.and_(col(Role.workspace_id) == Member.workspace_id, col(Role.id) == Member.role_id),
        )
        .join(User, col(User.id) == Member.user_id)
        .where(
            Member.status == MemberStatus.ACTIVE,
            Role.builtin == BuiltinRole.ADMIN,
            User.status == UserStatus.ACTIVE,
        )
        .with_only_columns(id_column(Member))
        .order_by(id_column(Member))
    )
    return list((await session.execute(stmt)).scalars())


async def set_teams(
    session: AsyncSession, workspace_id: int, member_id: int, team_ids: Sequence[int]
) -> None:
    await session.execute(
        scoped_delete(TeamMember, workspace_id).where(col(TeamMember.member_id) == member_id)
    )
    session.add_all(
        TeamMember(workspace_id=workspace_id, team_id=t, member_id=member_id) for t in team_ids
    )


async def set_team_members(
    session: AsyncSession, workspace_id: int, team_id: int, member_ids: Sequence[int]
) -> None:
    await session.execute(
        scoped_delete(TeamMember, workspace_id).where(col(TeamMember.team_id) == team_id)
    )
    session.add_all(
        TeamMember(workspace_id=workspace_id, team_id=team_id, member_id=m) for m in member_ids
    )


async def delete_member(session: AsyncSession, workspace_id: int, member_id: int) -> None:
    """The membership and its team memberships (explicitly, not through the cascade:
    the same statements on both engines)."""
    await session.execute(
        scoped_delete(TeamMember, workspace_id).where(col(TeamMember.member_id) == member_id)
    )
    await session.execute(scoped_delete(Member, workspace_id).where(col(Member.id) == member_id))


# scope: account deletion removes the user's memberships in every workspace they belong to
async def memberships_of_user_everywhere(session: AsyncSession, user_id: int) -> list[Member]:
    """Every membership of the user, any status (account deletion removes them all).

    Under row-level security this only sees the workspaces of the request's context:
    account deletion first enters every workspace the account has a membership of,
    deactivated ones included (app.domain.accounts.repository).
    """
    stmt = select(Member).where(Member.user_id == user_id).order_by(col(Member.workspace_id))
    return list((await session.execute(stmt)).scalars())


# scope: ids come from memberships_of_user_everywhere
async def delete_memberships(session: AsyncSession, member_ids: Sequence[int]) -> None:
    if member_ids:
        await session.execute(sa.delete(Member).where(col(Member.id).in_(member_ids)))
