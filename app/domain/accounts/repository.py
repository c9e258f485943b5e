"""What account deletion reads before it can act."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models import Member


# scope: the account's own memberships, by user id, before any workspace is known (SQLite;
#   PostgreSQL asks harmony_viewer_membership_workspace_ids)
async def membership_workspace_ids(session: AsyncSession, user_id: int) -> list[int]:
    """The workspaces where the user has a membership of any status, ascending.

    The sign-in context holds only the ACTIVE ones, and row-level security hides the
    others, so on PostgreSQL they come from ``harmony_viewer_membership_workspace_ids()``
    (migration 0004), a SECURITY DEFINER function that answers for the account of the
    verified context only (``user_id`` is that account). The user's own memberships,
    by user id: no workspace to scope by yet, which is the point.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt = sa.select(
            sa.func.harmony_viewer_membership_workspace_ids(type_=postgresql.ARRAY(sa.Integer))
        )
        return sorted((await session.execute(stmt)).scalar_one() or ())
    found = sa.select(col(Member.workspace_id)).where(col(Member.user_id) == user_id).distinct()
    return sorted((await session.execute(found)).scalars())
