"""The write side of teams."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.domain.tenant import scoped, scoped_update
from app.models import Conversation, Team


async def team_named(session: AsyncSession, workspace_id: int, name: str) -> Team | None:
    stmt = scoped(Team, workspace_id).where(sa.func.lower(Team.name) == name.lower())
    return (await session.execute(stmt)).scalars().first()


async def detach_conversations(session: AsyncSession, workspace_id: int, team_id: int) -> None:
    """Conversations outlive their team: they stay in the workspace, without a team."""
    await session.execute(
        scoped_update(Conversation, workspace_id)
        .where(col(Conversation.team_id) == team_id)
        .values(team_id=None)
    )
