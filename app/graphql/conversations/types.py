"""Conversations (meetings), read within the viewer's scope: ``conversations:read``
at ``own`` (hosted or joined), ``team`` (plus the viewer's teams') or ``all``. The
object types (``Conversation``, its lists' items, ``ShareLink``) and how a list of
conversations is built with the relations a query selects (``conversations_of``); the
Workspace fields that read them are in queries.py, their arguments' inputs in inputs.py."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import strawberry

from app import models as tables
from app.domain.conversations.repository import participants_with_accounts
from app.domain.pagination import Page
from app.graphql.access.types import TeamType, made_once
from app.graphql.capabilities import may_call
from app.graphql.context import Info
from app.graphql.directives import scoped_field
from app.graphql.enums import InsightKind
from app.graphql.ids import encode_id
from app.graphql.loaders import together
from app.graphql.lookahead import Reads, selected
from app.graphql.node import Node, node_id
from app.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    loaded_connection,
    page_window,
)
from app.graphql.users.types import UserType, user_or_none, users_by_id
from app.models import pk
from app.models.rows import ConversationRow

CONVERSATIONS_READ = "conversations:read:own"  # the least scope; rows are filtered to the held one
INSIGHTS_READ = "insights:read:own"
# Who may create a conversation's share links may list and revoke them: the least scope;
# the conversation must fall within the one held.
SHARE = "conversations:share:own"


# The columns each field of Participant is made of (``_participants``; its account's:
# USER_READS), as USER_READS (app.graphql.users.types) declares User's.
PARTICIPANT_READS: Reads = {"__typename": (), "name": ("name",), "email": ("email",), "user": ()}
# A conversation's own columns each field is made of (``conversations_of``).
CONVERSATION_READS: Reads = {
    "__typename": (),
    "id": ("id",),
    "title": ("title",),
    "occurredAt": ("occurred_at",),
    "durationSeconds": ("duration_seconds",),
    "host": ("host_user_id",),
    "team": ("team_id",),
    "participants": (),
}


@strawberry.type(description="Someone who took part in a conversation.")
class Participant:
    workspace_id: strawberry.Private[int]
    name: str = scoped_field("Name as it appeared in the meeting.")
    email: str | None = scoped_field("Email, when known.")
    user: UserType | None = scoped_field("The Harmony account, null for guests.")


@strawberry.type(description="Something Harmony learned from a conversation.")
class Insight:
    workspace_id: strawberry.Private[int]
    row: strawberry.Private[tables.ConversationInsight]

    @scoped_field("What kind of insight.")
    def kind(self) -> InsightKind:
        return self.row.kind

    @scoped_field("The insight itself.")
    def content(self) -> str:
        return self.row.content


@strawberry.type(description="A follow-up agreed in a conversation.")
class ActionItem:
    workspace_id: strawberry.Private[int]
    row: strawberry.Private[tables.ActionItem]

    @scoped_field("What to do.")
    def text(self) -> str:
        return self.row.text

    @scoped_field("Whether it is done.")
    def done(self) -> bool:
        return self.row.done

    @scoped_field("Who should do it, if assigned.")
    async def assignee(self, info: Info) -> UserType | None:
        uid = self.row.assignee_user_id
        return user_or_none(await info.context.users.load(uid)) if uid is not None else None


@strawberry.type(name="Conversation", description="A recorded meeting.")
class ConversationType(Node):
    workspace_id: strawberry.Private[int]
    pk: strawberry.Private[int]
    id: strawberry.ID = node_id("Conversation")
    title: str = scoped_field("Meeting title.")
    occurred_at: datetime = scoped_field("When the meeting started.")
    duration_seconds: int = scoped_field("Length in seconds.")
    # Relations are loaded with the list the conversations come in (conversations_of).
    host: UserType = scoped_field("Who hosted it.")
    team: TeamType | None = scoped_field("The team it belongs to, if any.")
    participants: list[Participant] = scoped_field(
        "Who took part, host included.",
        deprecation_reason=(
            "Use `participantsConnection`: a large meeting's list is read a page at a time."
        ),
    )

    @scoped_field(
        "Whether `createConversationShareLink` would share this conversation: the viewer "
        "passes its permission check and the conversation is within their share scope."
    )
    async def viewer_can_share(self, info: Info) -> bool:
        if not may_call(info, self.workspace_id, "Mutation.createConversationShareLink"):
            return False
        loaders = info.context.workspace(self.workspace_id)
        # A Conversation is only ever reached when readable.
        return loaders.all_readable_shareable or await loaders.shareable.load(self.pk)

    @scoped_field("Full transcript, if one was recorded.")
    async def transcript(self, info: Info) -> str | None:
        return await info.context.workspace(self.workspace_id).transcript.load(self.pk)

    @scoped_field(
        "Insights drawn from the conversation.",
        INSIGHTS_READ,
        deprecation_reason="Use `insightsConnection`, which pages the list.",
    )
    async def insights(self, info: Info) -> list[Insight] | None:
        rows = await info.context.workspace(self.workspace_id).insights.load(self.pk)
        return [Insight(workspace_id=self.workspace_id, row=r) for r in rows]

    @scoped_field(
        "Follow-ups agreed in the conversation.",
        deprecation_reason="Use `actionItemsConnection`, which pages the list.",
    )
    async def action_items(self, info: Info) -> list[ActionItem]:
        rows = await info.context.workspace(self.workspace_id).action_items.load(self.pk)
        return [ActionItem(workspace_id=self.workspace_id, row=r) for r in rows]

    @scoped_field("Who took part, host included, in the order they were recorded (keyset-paged).")
    async def participants_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Participant] | None:
        window = page_window(first, after, last, before, (int,), kind="Participant")
        loaders, ws = info.context.workspace(self.workspace_id), self.workspace_id

        def people(page: Page[Any]) -> list[Participant]:
            pairs = participants_with_accounts(page.items)
            return _participants(ws, pairs, _accounts())

        return await loaded_connection(
            loaders.participants_page,
            loaders.participant_count,
            self.pk,
            window,
            loaders.repository.conversations,
            people,
            kind="Participant",
        )

    @scoped_field(
        "Insights drawn from the conversation, in the order they were drawn (keyset-paged).",
        INSIGHTS_READ,
    )
    async def insights_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Insight] | None:
        window = page_window(first, after, last, before, (int,), kind="Insight")
        loaders, ws = info.context.workspace(self.workspace_id), self.workspace_id
        return await loaded_connection(
            loaders.insights_page,
            loaders.insight_count,
            self.pk,
            window,
            loaders.repository.conversations,
            lambda page: [Insight(workspace_id=ws, row=r) for r in page.items],
            kind="Insight",
        )

    @scoped_field(
        "Follow-ups agreed in the conversation, in the order they were recorded (keyset-paged)."
    )
    async def action_items_connection(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ActionItem] | None:
        window = page_window(first, after, last, before, (int,), kind="ActionItem")
        loaders, ws = info.context.workspace(self.workspace_id), self.workspace_id
        return await loaded_connection(
            loaders.action_items_page,
            loaders.action_item_count,
            self.pk,
            window,
            loaders.repository.conversations,
            lambda page: [ActionItem(workspace_id=ws, row=r) for r in page.items],
            kind="ActionItem",
        )

    @scoped_field(
        "Links shared to this conversation, oldest first (keyset-paged); revoke one with "
        "revokeConversationShareLink. Null when the viewer may not share this conversation "
        "(it is outside their conversations:share scope).",
        SHARE,
    )
    async def share_links(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[ShareLinkType] | None:
        window = page_window(first, after, last, before, (int,), kind="ShareLink")
        loaders = info.context.workspace(self.workspace_id)
        if not (loaders.all_readable_shareable or await loaders.shareable.load(self.pk)):
            return None
        return await loaded_connection(
            loaders.share_links_page,
            loaders.share_link_count,
            self.pk,
            window,
            loaders.repository.conversations,
            lambda page: [ShareLinkType.of(r) for r in page.items],
            kind="ShareLink",
        )


@strawberry.type(
    name="ShareLink",
    description="A pointer to a conversation; opening it still needs read permission.",
)
class ShareLinkType(Node):
    row: strawberry.Private[tables.ShareLink]
    id: strawberry.ID = node_id("ShareLink")

    @classmethod
    def of(cls, row: tables.ShareLink) -> ShareLinkType:
        return cls(row=row, id=strawberry.ID(encode_id("ShareLink", pk(row))))

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @scoped_field("The secret token in the link.")
    def token(self) -> str:
        return self.row.token

    @scoped_field("The link to open in the app.")
    def url(self) -> str:
        return f"/share/{self.row.token}"

    @scoped_field("When it was created.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @scoped_field("When it stops opening (null: never); an expired link answers like none.")
    def expires_at(self) -> datetime | None:
        return self.row.expires_at

    @scoped_field(
        "The conversation, when the viewer may read it (the link grants nothing by itself).",
        "conversations:read:own",
    )
    async def conversation(self, info: Info) -> ConversationType | None:
        loaders = info.context.workspace(self.workspace_id)
        return await conversation_of(
            info, await loaders.conversation.load(self.row.conversation_id)
        )


async def share_link_of(info: Info, row: Any) -> ShareLinkType | None:
    """``Query.node``'s builder: a link of a conversation the viewer may read and share
    (null otherwise, like one that does not exist)."""
    loaders = info.context.workspace(row.workspace_id)
    readable = await loaders.conversation.load(row.conversation_id)
    if readable is None or not (
        loaders.all_readable_shareable or await loaders.shareable.load(row.conversation_id)
    ):
        return None
    return ShareLinkType.of(row)


def _accounts() -> Callable[[Any], UserType | None]:
    """Account rows to UserType objects, one object per account however often it
    appears in the rows at hand (None for a guest's missing account)."""
    made: dict[int, UserType] = {}

    def account(user: Any) -> UserType | None:
        return None if user is None else made_once(made, user, UserType.of)

    return account


def _participants(
    workspace_id: int,
    pairs: Sequence[tuple[Any, Any]],
    account: Callable[[Any], UserType | None],
) -> list[Participant]:
    """(participant, account row or None) pairs as Participant objects."""
    return [
        Participant(workspace_id=workspace_id, name=p.name, email=p.email, user=account(u))
        for p, u in pairs
    ]


async def conversations_of(
    info: Info,
    workspace_id: int,
    rows: Sequence[ConversationRow | tables.Conversation],
    wanted: frozenset[str],
    related: Mapping[str, list[Any]] | None = None,
) -> list[ConversationType]:
    """Conversations with the relations the query selects, loaded up front so their
    fields resolve without awaiting: those the rows' own statement joined (``related``:
    "host", "team", aligned with ``rows``), the others in one batch per relation
    (participants come with their accounts)."""
    loaders = info.context.workspace(workspace_id)
    joined = related or {}
    keys = [pk(r) for r in rows]
    teams, people, hosts = await together(
        loaders.team.fetch_many(sorted({r.team_id for r in rows if r.team_id is not None}))
        if "team" in wanted and "team" not in joined
        else None,
        loaders.participants.fetch_many(keys)
        if "participants" in wanted and "participants" not in joined
        else None,
        users_by_id(info, (r.host_user_id for r in rows))
        if "host" in wanted and "host" not in joined
        else None,
    )
    if "participants" in joined:
        people = [participants_with_accounts(p) for p in joined["participants"]]
    team_of = {pk(t): TeamType.of(t) for t in teams or () if t is not None}
    for t in joined.get("team", ()):
        if t is not None and t.id not in team_of:
            team_of[t.id] = TeamType.of(t)
    host_rows = joined.get("host")
    # Hosts and participants' accounts may be read with different columns (a
    # participant's ``user { id }`` alone is its foreign key): objects of each kind.
    account, participant_account = _accounts(), _accounts()
    out = []
    for i, row in enumerate(rows):
        if host_rows is not None:
            host = account(host_rows[i])
        else:
            host = hosts.get(row.host_user_id) if hosts is not None else None
        out.append(
            ConversationType(
                workspace_id=workspace_id,
                pk=keys[i],
                id=strawberry.ID(encode_id("Conversation", keys[i])),
                title=row.title,
                occurred_at=row.occurred_at,
                duration_seconds=row.duration_seconds,
                host=host,  # type: ignore[arg-type]
                team=team_of.get(row.team_id) if row.team_id is not None else None,
                participants=_participants(
                    workspace_id, people[i] if people else (), participant_account
                ),
            )
        )
    return out


async def conversation_of(info: Info, row: tables.Conversation | None) -> ConversationType | None:
    """One conversation, with what the current field selects under it."""
    if row is None:
        return None
    items = await conversations_of(info, row.workspace_id, [row], selected(info))
    return items[0]
