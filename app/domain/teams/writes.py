"""The write side of teams."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.tenant import scoped
from app.models import Conversation, Team


async def team_named(session: AsyncSession, workspace_id: int, name: str) -> Team | None:
    stmt = scoped(Team, workspace_id).where(sa.func.lower(Team.name) == name.lower())
    return (await session.execute(stmt)).scalars().first()


async def detach_conversations(session: AsyncSession, workspace_id: int, team_id: int) -> None:
    """Conversations outlive their team: they stay in the workspace, without a team."""
    await session.execute(
        sa.update(Conversation)
        .where(Conversation.workspace_id == workspace_id, Conversation.team_id == team_id)
        .values(team_id=None)
    )
