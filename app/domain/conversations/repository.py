"""Conversations, read with the viewer's visibility (own / team / all) in the SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from sqlmodel.sql.expression import SelectOfScalar

from app.auth.permissions import Scope
from app.db.prepared import Nested, Prepared, Related, ToOne, any_of
from app.db.types import column_of, table_of
from app.domain.bound import WorkspaceReads
from app.domain.pagination import (
    Page,
    Window,
    grouped_counts,
    grouped_pages,
    prepared_count,
    prepared_page,
)
from app.domain.rows import (
    ACTION_ITEM_ROW,
    CONVERSATION_ROW,
    INSIGHT_ROW,
    PARTICIPANT_ROW,
    SHARE_LINK_ROW,
)
from app.domain.tenant import WorkspaceId, lean, scoped
from app.models import (
    ActionItem,
    Conversation,
    ConversationInsight,
    ConversationParticipant,
    ConversationTranscript,
    ShareLink,
    Team,
    User,
)
from app.models.rows import (
    ActionItemRow,
    ConversationRow,
    InsightRow,
    ParticipantRow,
    ShareLinkRow,
    UserRow,
)

# Newest first; id breaks ties so the order is total.
CONVERSATION_ORDER = (column_of(Conversation.occurred_at), column_of(Conversation.id))


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


def _visible(workspace_id: int, v: Visibility) -> SelectOfScalar[Conversation]:
    stmt = scoped(Conversation, workspace_id)
    if v.scope >= Scope.ALL:
        return stmt
    return stmt.where(_own_or_team(workspace_id, v.user_id, sorted(v.team_ids), v.scope))


def _own_or_team(
    workspace_id: WorkspaceId,
    user_id: int | sa.ColumnElement[int],
    team_ids: Sequence[int] | sa.ColumnElement[bool] | None,
    scope: Scope,
) -> sa.ColumnElement[bool]:
    """Hosted or attended by ``user_id`` (with ``Scope.TEAM`` and team ids: or held by
    one of these teams). Values or bound parameters (``team_ids``: the condition itself)."""
    own = sa.or_(
        col(Conversation.host_user_id) == user_id,
        # scope: correlated to the conversation row, within its workspace_id
        sa.exists().where(
            col(ConversationParticipant.workspace_id) == workspace_id,
            col(ConversationParticipant.conversation_id) == Conversation.id,
            col(ConversationParticipant.user_id) == user_id,
        ),
    )
    if scope >= Scope.TEAM and team_ids is not None:
        teams = (
            team_ids
            if isinstance(team_ids, sa.ColumnElement)
            else col(Conversation.team_id).in_(team_ids)
        )
        return sa.or_(teams, own)
    return own


def _filter_params(
    workspace_id: int, v: Visibility, f: ConversationFilter
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The statement's shape (visibility and which filters apply) and its values."""
    values: dict[str, Any] = {"workspace_id": workspace_id}
    scope = min(v.scope, Scope.ALL)
    if scope < Scope.ALL:
        values["user_id"] = v.user_id
        if scope >= Scope.TEAM and v.team_ids:
            values["team_ids"] = sorted(v.team_ids)
    for name, value in (
        ("team_id", f.team_id),
        ("host_user_id", f.host_user_id),
        ("occurred_from", f.occurred_from),
        ("occurred_to", f.occurred_to),
    ):
        if value is not None:
            values[name] = value
    shape = (
        scope,
        *(
            k in values
            for k in ("team_ids", "team_id", "host_user_id", "occurred_from", "occurred_to")
        ),
    )
    return shape, values


def _filtered(dialect: str, shape: tuple[Any, ...]) -> SelectOfScalar[Conversation]:
    """Conversations of ``:workspace_id`` the shape's visibility reaches, with the
    filters it switches on, as bound parameters."""
    scope, team_ids, team_id, host, occurred_from, occurred_to = shape
    workspace_id = sa.bindparam("workspace_id", type_=sa.Integer)
    stmt = scoped(Conversation, workspace_id)
    occurred = column_of(Conversation.occurred_at).type
    if scope < Scope.ALL:
        teams = any_of(dialect, column_of(Conversation.team_id), "team_ids") if team_ids else None
        user_id = sa.bindparam("user_id", type_=sa.Integer)
        stmt = stmt.where(_own_or_team(workspace_id, user_id, teams, scope))
    if team_id:
        stmt = stmt.where(col(Conversation.team_id) == sa.bindparam("team_id", type_=sa.Integer))
    if host:
        stmt = stmt.where(
            col(Conversation.host_user_id) == sa.bindparam("host_user_id", type_=sa.Integer)
        )
    if occurred_from:
        stmt = stmt.where(
            col(Conversation.occurred_at) >= sa.bindparam("occurred_from", type_=occurred)
        )
    if occurred_to:
        stmt = stmt.where(
            col(Conversation.occurred_at) < sa.bindparam("occurred_to", type_=occurred)
        )
    return stmt


# Relations a conversation page can bring along in its own statement.
CONVERSATION_HOST = Related("host", User, lambda host: host.id == Conversation.host_user_id)
# scope: the team joins on its workspace_id = the conversation's (a scoped statement's)
CONVERSATION_TEAM = Related(
    "team",
    Team,
    lambda team: sa.and_(
        team.workspace_id == Conversation.workspace_id, team.id == Conversation.team_id
    ),
    outer=True,  # a conversation may have no team
)


async def conversations_page(
    session: AsyncSession,
    workspace_id: int,
    v: Visibility,
    f: ConversationFilter,
    window: Window,
    *,
    include: frozenset[str] = frozenset(),
    reads: Mapping[str, frozenset[str]] | None = None,
) -> Page[ConversationRow]:
    """A page of conversations as lean rows (the columns of Conversation); with
    ``include`` ("host", "team", "participants") the same statement reads each one's host
    account, team (None for a conversation without one) and participants (in id order,
    each with its account's columns: ``participants_with_accounts``), in ``page.related``;
    ``reads``: only these columns of a relation (``prepared_page``; the participants'
    account's columns as ``participant_reads`` names them)."""
    shape, values = _filter_params(workspace_id, v, f)
    return await prepared_page(
        session,
        ("conversations_page", shape),
        lambda dialect: lean(_filtered(dialect, shape), Conversation),
        CONVERSATION_ORDER,
        window,
        descending=True,
        row=CONVERSATION_ROW,
        related=[r for r in (CONVERSATION_HOST, CONVERSATION_TEAM) if r.name in include],
        nested=[CONVERSATION_PARTICIPANTS] if CONVERSATION_PARTICIPANTS.name in include else [],
        reads=reads,
        **values,
    )


async def conversations_count(
    session: AsyncSession, workspace_id: int, v: Visibility, f: ConversationFilter
) -> int:
    shape, values = _filter_params(workspace_id, v, f)
    return await prepared_count(
        session, ("conversations", shape), lambda dialect: _filtered(dialect, shape), **values
    )


async def conversations_by_ids(
    session: AsyncSession, workspace_id: int, v: Visibility, ids: Sequence[int]
) -> list[Conversation]:
    stmt = _visible(workspace_id, v).where(col(Conversation.id).in_(ids))
    return list((await session.execute(stmt)).scalars())


PARTICIPANT_USER = Related(
    "user",
    User,
    lambda user: user.id == ConversationParticipant.user_id,
    outer=True,  # guests have no account
)


# scope: the participants of the conversation's own row, on its workspace_id (a scoped
#   statement's); their accounts by id (users are behind row-level security)
CONVERSATION_PARTICIPANTS = Nested(
    "participants",
    [
        *table_of(ConversationParticipant).columns,
        *(c.label(f"{PARTICIPANT_USER.name}__{c.key}") for c in table_of(User).columns),
    ],
    lambda stmt: stmt.select_from(ConversationParticipant).where(
        col(ConversationParticipant.workspace_id) == Conversation.workspace_id,
        col(ConversationParticipant.conversation_id) == Conversation.id,
    ),
    # ``user { id }`` alone: the participant's user_id, not a join (and on PostgreSQL
    # not the account's row-level security check) per participant.
    to_one=ToOne(
        PARTICIPANT_USER.name,
        column_of(ConversationParticipant.user_id),
        lambda stmt: stmt.outerjoin(User, col(User.id) == ConversationParticipant.user_id),
    ),
)


def participant_reads(own: frozenset[str], account: frozenset[str] | None) -> frozenset[str]:
    """The columns of ``CONVERSATION_PARTICIPANTS`` to read: the participant's ``own``
    and its account's (None: all of them; the account's id always, which tells a guest).
    """
    if account is None:
        account = frozenset(c.key for c in table_of(User).columns)
    prefix = f"{PARTICIPANT_USER.name}__"
    return own | {f"{prefix}{c}" for c in account | {"id"}}


def participants_with_accounts(
    participants: Sequence[ParticipantRow],
) -> list[tuple[ParticipantRow, UserRow | None]]:
    """(participant, account or None for a guest) pairs of participant rows that carry
    their account's columns (``participants_of``, ``CONVERSATION_PARTICIPANTS``)."""
    return list(zip(participants, PARTICIPANT_USER.of(participants), strict=True))


def _participants_of(dialect: str) -> sa.Select[Any]:
    stmt = (
        scoped(ConversationParticipant, sa.bindparam("workspace_id", type_=sa.Integer))
        .where(any_of(dialect, column_of(ConversationParticipant.conversation_id), "ids"))
        .order_by(col(ConversationParticipant.id))
    )
    return PARTICIPANT_USER.joined(lean(stmt, ConversationParticipant))


_PARTICIPANTS_OF = Prepared("participants_of", _participants_of, PARTICIPANT_ROW)


async def participants_of(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> list[tuple[ParticipantRow, UserRow | None]]:
    """(participant, account or None for a guest) pairs as lean rows, participants in
    id order: one statement."""
    rows = await _PARTICIPANTS_OF.all(
        session, workspace_id=workspace_id, ids=list(conversation_ids)
    )
    return participants_with_accounts(rows)


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
        .where(col(ConversationInsight.conversation_id).in_(conversation_ids))
        .order_by(col(ConversationInsight.id))
    )
    if within is not None:
        reachable = _visible(workspace_id, within).with_only_columns(col(Conversation.id))
        stmt = stmt.where(col(ConversationInsight.conversation_id).in_(reachable))
    return list((await session.execute(stmt)).scalars())


async def action_items_of(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> list[ActionItem]:
    stmt = (
        scoped(ActionItem, workspace_id)
        .where(col(ActionItem.conversation_id).in_(conversation_ids))
        .order_by(col(ActionItem.id))
    )
    return list((await session.execute(stmt)).scalars())


async def transcripts_of(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> list[ConversationTranscript]:
    stmt = scoped(ConversationTranscript, workspace_id).where(
        col(ConversationTranscript.conversation_id).in_(conversation_ids)
    )
    return list((await session.execute(stmt)).scalars())


# --- the lists under each conversation, paged per conversation (grouped_pages) ---------


def _participants(workspace_id: int) -> sa.Select[Any]:
    """Participants as lean rows with their accounts' columns (``participants_with_accounts``)."""
    return PARTICIPANT_USER.joined(
        lean(scoped(ConversationParticipant, workspace_id), ConversationParticipant)
    )


def _insights(workspace_id: int, within: Visibility | None) -> sa.Select[Any]:
    stmt = lean(scoped(ConversationInsight, workspace_id), ConversationInsight)
    if within is not None:
        reachable = _visible(workspace_id, within).with_only_columns(col(Conversation.id))
        stmt = stmt.where(col(ConversationInsight.conversation_id).in_(reachable))
    return stmt


def _action_items(workspace_id: int) -> sa.Select[Any]:
    return lean(scoped(ActionItem, workspace_id), ActionItem)


def _share_links(workspace_id: int) -> sa.Select[Any]:
    return lean(scoped(ShareLink, workspace_id), ShareLink)


async def participant_pages(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int], window: Window
) -> dict[int, Page[ParticipantRow]]:
    """A page of participants (id order, each with its account's columns) per conversation."""
    return await grouped_pages(
        session,
        _participants(workspace_id),
        column_of(ConversationParticipant.conversation_id),
        (column_of(ConversationParticipant.id),),
        window,
        conversation_ids,
        PARTICIPANT_ROW,
    )


async def participant_counts(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> dict[int, int]:
    return await grouped_counts(
        session,
        lean(scoped(ConversationParticipant, workspace_id), ConversationParticipant),
        column_of(ConversationParticipant.conversation_id),
        conversation_ids,
    )


async def insight_pages(
    session: AsyncSession,
    workspace_id: int,
    conversation_ids: Sequence[int],
    window: Window,
    within: Visibility | None = None,
) -> dict[int, Page[InsightRow]]:
    """A page of insights (id order) per conversation; ``within`` as for ``insights_of``."""
    return await grouped_pages(
        session,
        _insights(workspace_id, within),
        column_of(ConversationInsight.conversation_id),
        (column_of(ConversationInsight.id),),
        window,
        conversation_ids,
        INSIGHT_ROW,
    )


async def insight_counts(
    session: AsyncSession,
    workspace_id: int,
    conversation_ids: Sequence[int],
    within: Visibility | None = None,
) -> dict[int, int]:
    return await grouped_counts(
        session,
        _insights(workspace_id, within),
        column_of(ConversationInsight.conversation_id),
        conversation_ids,
    )


async def action_item_pages(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int], window: Window
) -> dict[int, Page[ActionItemRow]]:
    """A page of action items (id order) per conversation."""
    return await grouped_pages(
        session,
        _action_items(workspace_id),
        column_of(ActionItem.conversation_id),
        (column_of(ActionItem.id),),
        window,
        conversation_ids,
        ACTION_ITEM_ROW,
    )


async def action_item_counts(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> dict[int, int]:
    return await grouped_counts(
        session,
        _action_items(workspace_id),
        column_of(ActionItem.conversation_id),
        conversation_ids,
    )


async def share_link_in(session: AsyncSession, workspace_id: int, link_id: int) -> ShareLink | None:
    """The share link with this id in the workspace (the entity, to delete it)."""
    stmt = scoped(ShareLink, workspace_id).where(col(ShareLink.id) == link_id)
    return (await session.execute(stmt)).scalars().first()


async def share_link_pages(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int], window: Window
) -> dict[int, Page[ShareLinkRow]]:
    """A page of share links (oldest first) per conversation."""
    return await grouped_pages(
        session,
        _share_links(workspace_id),
        column_of(ShareLink.conversation_id),
        (column_of(ShareLink.id),),
        window,
        conversation_ids,
        SHARE_LINK_ROW,
    )


async def share_link_counts(
    session: AsyncSession, workspace_id: int, conversation_ids: Sequence[int]
) -> dict[int, int]:
    return await grouped_counts(
        session, _share_links(workspace_id), column_of(ShareLink.conversation_id), conversation_ids
    )


class ConversationRepository(WorkspaceReads):
    """The conversations of the workspace it is bound to (``app.domain.bound``), within
    a visibility the caller passes (the viewer's scope), and the lists under them."""

    __slots__ = ()

    async def page(
        self,
        v: Visibility,
        f: ConversationFilter,
        window: Window,
        *,
        include: frozenset[str] = frozenset(),
        reads: Mapping[str, frozenset[str]] | None = None,
    ) -> Page[ConversationRow]:
        return await self._in(conversations_page, v, f, window, include=include, reads=reads)

    async def count(self, v: Visibility, f: ConversationFilter) -> int:
        return await self._in(conversations_count, v, f)

    async def by_ids(self, v: Visibility, ids: Sequence[int]) -> list[Conversation]:
        return await self._in(conversations_by_ids, v, ids)

    async def participants_of(
        self, ids: Sequence[int]
    ) -> list[tuple[ParticipantRow, UserRow | None]]:
        return await self._in(participants_of, ids)

    async def insights_of(
        self, ids: Sequence[int], within: Visibility | None = None
    ) -> list[ConversationInsight]:
        return await self._in(insights_of, ids, within)

    async def action_items_of(self, ids: Sequence[int]) -> list[ActionItem]:
        return await self._in(action_items_of, ids)

    async def transcripts_of(self, ids: Sequence[int]) -> list[ConversationTranscript]:
        return await self._in(transcripts_of, ids)

    async def participant_pages(
        self, ids: Sequence[int], window: Window
    ) -> dict[int, Page[ParticipantRow]]:
        return await self._in(participant_pages, ids, window)

    async def participant_counts(self, ids: Sequence[int]) -> dict[int, int]:
        return await self._in(participant_counts, ids)

    async def insight_pages(
        self, ids: Sequence[int], window: Window, within: Visibility | None = None
    ) -> dict[int, Page[InsightRow]]:
        return await self._in(insight_pages, ids, window, within)

    async def insight_counts(
        self, ids: Sequence[int], within: Visibility | None = None
    ) -> dict[int, int]:
        return await self._in(insight_counts, ids, within)

    async def action_item_pages(
        self, ids: Sequence[int], window: Window
    ) -> dict[int, Page[ActionItemRow]]:
        return await self._in(action_item_pages, ids, window)

    async def action_item_counts(self, ids: Sequence[int]) -> dict[int, int]:
        return await self._in(action_item_counts, ids)

    async def share_link_pages(
        self, ids: Sequence[int], window: Window
    ) -> dict[int, Page[ShareLinkRow]]:
        return await self._in(share_link_pages, ids, window)

    async def share_link_counts(self, ids: Sequence[int]) -> dict[int, int]:
        return await self._in(share_link_counts, ids)
