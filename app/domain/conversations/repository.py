"""Conversations, read with the viewer's visibility (own / team / all) in the SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.permissions import Scope
from app.domain.pagination import Page, count, fetch_page
from app.domain.tenant import lean, one_of, scoped
from app.models import (
    ActionItem,
    Conversation,
    ConversationInsight,
    ConversationParticipant,
    ConversationTranscript,
)

# Newest first; id breaks ties so the order is total.
CONVERSATION_ORDER = (Conversation.occurred_at, Conversation.id)


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which conversations of a workspace a viewer may read."""

    scope: Scope
    user_id: int
    team_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    team_id: int | None = None
    host_user_id: int | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def _visible(workspace_id: int, v: Visibility) -> sa.Select[tuple[Conversation]]:
    stmt = scoped(Conversation, workspace_id)
    if v.scope >= Scope.ALL:
        return stmt
    own = sa.or_(
        Conversation.host_user_id == v.user_id,
        sa.exists().where(
            ConversationParticipant.workspace_id == workspace_id,
            ConversationParticipant.conversation_id == Conversation.id,
            ConversationParticipant.user_id == v.user_id,
        ),
    )
    if v.scope >= Scope.TEAM and v.team_ids:
        own = sa.or_(Conversation.team_id.in_(sorted(v.team_ids)), own)
    return stmt.where(own)


def _filtered(
    workspace_id: int, v: Visibility, f: ConversationFilter
) -> sa.Select[tuple[Conversation]]:
    stmt = _visible(workspace_id, v)
    if f.team_id is not None:
        stmt = stmt.where(Conversation.team_id == f.team_id)
    if f.host_user_id is not None:
        stmt = stmt.where(Conversation.host_user_id == f.host_user_id)
    if f.occurred_from is not None:
        stmt = stmt.where(Conversation.occurred_at >= f.occurred_from)
    if f.occurred_to is not None:
        stmt = stmt.where(Conversation.occurred_at < f.occurred_to)
    return stmt


async def conversations_page(
    session: AsyncSession,
    workspace_id: int,
    v: Visibility,
    f: ConversationFilter,
    *,
    first: int,
    after: tuple[object, ...] | None,
) -> Page[Conversation]:
    return await fetch_page(
        session,
        lean(_filtered(workspace_id, v, f), Conversation),
        CONVERSATION_ORDER,
        first=first,
        after=after,
        descending=True,
    )


async def conversations_count(
    session: AsyncSession, workspace_id: int, v: Visibility, f: ConversationFilter
) -> int:
    return await count(session, _filtered(workspace_id, v, f))


async def conversations_by_ids(
    session: AsyncSession, workspace_id: int, v: Visibility, ids: Sequence[int]
) -> list[Conversation]:
    stmt = _visible(workspace_id, v).where(Conversation.id.in_(ids))
    return list((await session.execute(stmt)).scalars())


async def participants_of(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> list[ConversationParticipant]:
    stmt = (
        scoped(ConversationParticipant, workspace_id)
        .where(one_of(session, ConversationParticipant.conversation_id, conversation_ids))
        .order_by(ConversationParticipant.id)
    )
    return list((await session.execute(lean(stmt, ConversationParticipant))).all())


async def insights_of(
    session: AsyncSession,
    workspace_id: int,
    conversation_ids: Sequence[int],
    within: Visibility | None = None,
) -> list[ConversationInsight]:
    """Insights of these conversations; with ``within``, only of the conversations that
    visibility reaches (insights may be readable at a narrower scope than conversations)."""
    stmt = (
        scoped(ConversationInsight, workspace_id)
        .where(ConversationInsight.conversation_id.in_(conversation_ids))
        .order_by(ConversationInsight.id)
    )
    if within is not None:
        reachable = _visible(workspace_id, within).with_only_columns(Conversation.id)
        stmt = stmt.where(ConversationInsight.conversation_id.in_(reachable))
    return list((await session.execute(stmt)).scalars())


async def action_items_of(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> list[ActionItem]:
    stmt = (
        scoped(ActionItem, workspace_id)
        .where(ActionItem.conversation_id.in_(conversation_ids))
        .order_by(ActionItem.id)
    )
    return list((await session.execute(stmt)).scalars())


async def transcripts_of(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> list[ConversationTranscript]:
    stmt = scoped(ConversationTranscript, workspace_id).where(
        ConversationTranscript.conversation_id.in_(conversation_ids)
    )
    return list((await session.execute(stmt)).scalars())
