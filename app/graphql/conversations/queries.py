"""The Workspace fields that read conversations, a page or one at a time (mixed into
``Workspace`` by app.graphql.workspaces.types)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.conversations.repository import ConversationFilter, participant_reads
from app.domain.pagination import OWN_ROW
from app.graphql.access.types import ITEMS, TEAM_READS
from app.graphql.context import Info
from app.graphql.conversations.inputs import ConversationFilterInput
from app.graphql.conversations.types import (
    CONVERSATION_READS,
    CONVERSATIONS_READ,
    PARTICIPANT_READS,
    ConversationType,
    conversation_of,
    conversations_of,
)
from app.graphql.directives import scoped_field
from app.graphql.ids import pk_of
from app.graphql.lookahead import below, columns_read, selected
from app.graphql.node import id_argument
from app.graphql.pagination import (
    After,
    Before,
    Connection,
    First,
    Last,
    page_window,
    to_connection,
)
from app.graphql.users.types import USER_READS


def _conversation_reads(info: Info) -> dict[str, frozenset[str]]:
    """The columns of the conversations, their host, team and participants (with their
    accounts) the page's fields are made of (none for a relation a field outside the
    types' declared reads needs). Hosts and participants' accounts are read each for their own
    fields: a participant's ``user { id }`` alone reads no account at all."""
    own = columns_read(info, below(ITEMS, "participants"), PARTICIPANT_READS)
    accounts = columns_read(info, below(ITEMS, "participants", "user"), USER_READS)
    found = {
        OWN_ROW: columns_read(info, ITEMS, CONVERSATION_READS),
        "host": columns_read(info, below(ITEMS, "host"), USER_READS),
        "team": columns_read(info, below(ITEMS, "team"), TEAM_READS),
        "participants": None if own is None else participant_reads(own, accounts),
    }
    return {name: columns for name, columns in found.items() if columns is not None}


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
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        filter: Annotated[
            ConversationFilterInput | None,
            strawberry.argument(
                description="Only the conversations meeting every condition given."
            ),
        ] = None,
    ) -> Connection[ConversationType] | None:
        window = page_window(first, after, last, before, (datetime, int), kind="Conversation")
        f = filter.to_domain() if filter else ConversationFilter()
        ws = self.workspace_id
        visibility = info.context.conversation_visibility(ws)
        assert visibility is not None  # the guard required conversations:read:own
        conversations = info.context.repository(ws).conversations
        wanted = selected(info, *ITEMS)
        include = wanted & {"host", "team", "participants"}  # read by the page's own statement
        reads = _conversation_reads(info)
        page = await conversations.page(visibility, f, window, include=include, reads=reads)

        async def count() -> int:
            return await conversations.count(visibility, f)

        items = await conversations_of(info, ws, page.items, wanted, page.related)
        return to_connection(page, items, count, conversations, kind="Conversation")

    @scoped_field(
        "A conversation by ID; null when it does not exist or is outside the viewer's scope.",
        CONVERSATIONS_READ,
    )
    async def conversation(
        self, info: Info, id: Annotated[strawberry.ID, id_argument("Conversation")]
    ) -> ConversationType | None:
        pk = pk_of(id, "Conversation", "id")
        assert pk is not None
        return await conversation_of(
            info, await info.context.workspace(self.workspace_id).conversation.load(pk)
        )
