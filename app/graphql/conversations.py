"""Conversations (meetings), read within the viewer's scope: ``conversations:read``
at ``own`` (hosted or joined), ``team`` (plus the viewer's teams') or ``all``."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from app import models as tables
from app.domain.conversations import repository as conversations
from app.domain.conversations.repository import ConversationFilter
from app.graphql.access import TeamType, pk_of
from app.graphql.context import Info
from app.graphql.directives import scoped_field
from app.graphql.enums import InsightKind
from app.graphql.errors import BadUserInput
from app.graphql.node import Node, node_id
from app.graphql.pagination import Connection, decode_cursor, page_size, to_connection
from app.graphql.users import UserType, user_or_none
from app.models import pk

CONVERSATIONS_READ = "conversations:read:own"  # the least scope; rows are filtered to the held one
INSIGHTS_READ = "insights:read:own"


@strawberry.type(description="Someone who took part in a conversation.")
class Participant:
    workspace_id: strawberry.Private[int]
    row: strawberry.Private[tables.ConversationParticipant]

    @scoped_field("Name as it appeared in the meeting.")
    def name(self) -> str:
        return self.row.name

    @scoped_field("Email, when known.")
    def email(self) -> str | None:
        return self.row.email

    @scoped_field("The Harmony account, null for guests.")
    async def user(self, info: Info) -> UserType | None:
        uid = self.row.user_id
        return user_or_none(await info.context.users.load(uid)) if uid is not None else None


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
    row: strawberry.Private[tables.Conversation]
    id: strawberry.ID = node_id("Conversation")

    @property
    def workspace_id(self) -> int:
        return self.row.workspace_id

    @property
    def pk(self) -> int:
        assert self.row.id is not None
        return self.row.id

    @scoped_field("Meeting title.")
    def title(self) -> str:
        return self.row.title

    @scoped_field("When the meeting started.")
    def occurred_at(self) -> datetime:
        return self.row.occurred_at

    @scoped_field("Length in seconds.")
    def duration_seconds(self) -> int:
        return self.row.duration_seconds

    @scoped_field("Who hosted it.")
    async def host(self, info: Info) -> UserType:
        user = await info.context.users.load(self.row.host_user_id)
        assert user is not None  # host_user_id is a foreign key
        return UserType(row=user)

    @scoped_field("The team it belongs to, if any.")
    async def team(self, info: Info) -> TeamType | None:
        if self.row.team_id is None:
            return None
        row = await info.context.workspace(self.workspace_id).team.load(self.row.team_id)
        return TeamType(row=row) if row else None

    @scoped_field("Who took part, host included.")
    async def participants(self, info: Info) -> list[Participant]:
        rows = await info.context.workspace(self.workspace_id).participants.load(self.pk)
        return [Participant(workspace_id=self.workspace_id, row=r) for r in rows]

    @scoped_field("Full transcript, if one was recorded.")
    async def transcript(self, info: Info) -> str | None:
        return await info.context.workspace(self.workspace_id).transcript.load(self.pk)

    @scoped_field("Insights drawn from the conversation.", INSIGHTS_READ)
    async def insights(self, info: Info) -> list[Insight] | None:
        rows = await info.context.workspace(self.workspace_id).insights.load(self.pk)
        return [Insight(workspace_id=self.workspace_id, row=r) for r in rows]

    @scoped_field("Follow-ups agreed in the conversation.")
    async def action_items(self, info: Info) -> list[ActionItem]:
        rows = await info.context.workspace(self.workspace_id).action_items.load(self.pk)
        return [ActionItem(workspace_id=self.workspace_id, row=r) for r in rows]


@strawberry.input(description="Narrows `Workspace.conversations`; all given conditions must hold.")
class ConversationFilterInput:
    team_id: strawberry.ID | None = strawberry.field(default=None, description="Only this Team's.")
    host_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only hosted by this User."
    )
    from_: datetime | None = strawberry.field(
        default=None, name="from", description="Only those that started at or after this instant."
    )
    to: datetime | None = strawberry.field(
        default=None, description="Only those that started before this instant."
    )

    def to_domain(self) -> ConversationFilter:
        for name, value in (("from", self.from_), ("to", self.to)):
            if value is None:
                continue
            if value.tzinfo is None:
                raise BadUserInput(
                    f"`filter.{name}` needs a timezone offset.", argument=f"filter.{name}"
                )
            try:
                value.astimezone(UTC)  # stored and compared in UTC
            except OverflowError as exc:
                raise BadUserInput(
                    f"`filter.{name}` is out of range.", argument=f"filter.{name}"
                ) from exc
        return ConversationFilter(
            team_id=pk_of(self.team_id, "Team", "filter.teamId"),
            host_user_id=pk_of(self.host_id, "User", "filter.hostId"),
            occurred_from=self.from_,
            occurred_to=self.to,
        )


@strawberry.type
class ConversationFields:
    """Workspace fields about conversations."""

    @property
    def workspace_id(self) -> int:  # provided by Workspace
        raise NotImplementedError

    @scoped_field(
        "Conversations the viewer may read, newest first (keyset-paged). Filtered to the "
        "viewer's conversations:read scope: own (hosted or joined), team, or all.",
        CONVERSATIONS_READ,
    )
    async def conversations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ConversationFilterInput | None = None,
    ) -> Connection[ConversationType] | None:
        size, key = page_size(first), decode_cursor(after, (datetime, int), kind="Conversation")
        f = filter.to_domain() if filter else ConversationFilter()
        ws, db = self.workspace_id, info.context.db
        visibility = info.context.conversation_visibility(ws)
        assert visibility is not None  # the guard required conversations:read:own
        async with db.session() as s:
            page = await conversations.conversations_page(
                s, ws, visibility, f, first=size, after=key
            )
        loaders = info.context.workspace(ws)
        for c in page.items:
            loaders.conversation.prime(pk(c), c)

        async def count() -> int:
            async with db.session() as s:
                return await conversations.conversations_count(s, ws, visibility, f)

        return to_connection(page, lambda c: ConversationType(row=c), count, kind="Conversation")

    @scoped_field(
        "A conversation by ID; null when it does not exist or is outside the viewer's scope.",
        CONVERSATIONS_READ,
    )
    async def conversation(self, info: Info, id: strawberry.ID) -> ConversationType | None:
        pk = pk_of(id, "Conversation", "id")
        assert pk is not None
        row = await info.context.workspace(self.workspace_id).conversation.load(pk)
        return ConversationType(row=row) if row else None
