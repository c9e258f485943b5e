"""createConversationShareLink."""

from __future__ import annotations

import strawberry

from app.domain.conversations import service
from app.graphql.administration import ShareLinkType
from app.graphql.context import Info
from app.graphql.mutations.base import Payload, Target, change, mutation


@strawberry.input(description="Names the conversation to share.")
class CreateConversationShareLinkInput:
    conversation_id: strawberry.ID = strawberry.field(description="The Conversation.")


@strawberry.type(description="Result of createConversationShareLink.")
class CreateConversationShareLinkPayload(Payload):
    share_link: ShareLinkType | None = strawberry.field(default=None, description="The new link.")


@strawberry.type
class ConversationMutations:
    @mutation(
        "Create a share link. It is only a pointer: whoever opens it still needs permission to read the "
        "conversation.",
        # The least scope; the conversation must fall within the one held.
        permission="conversations:share:own",
        # Out of reach (another workspace, no such row, outside the viewer's read or share
        # scope): one answer, whichever it is.
        target=Target("Conversation", "conversation_id", missing=service.not_shareable),
    )
    async def create_conversation_share_link(
        self,
        info: Info,
        input: CreateConversationShareLinkInput,
    ) -> CreateConversationShareLinkPayload:
        viewer = info.context.viewer

        def team_ids(ws: int) -> frozenset[int]:
            membership = viewer.membership(ws)
            return membership.team_ids if membership else frozenset()

        link = await change(
            info,
            lambda s, actor, ws, conversation: service.create_share_link(
                s, ws, actor, conversation, team_ids=team_ids(ws)
            ),
        )
        return CreateConversationShareLinkPayload(share_link=ShareLinkType(row=link))
