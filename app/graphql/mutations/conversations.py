"""createConversationShareLink."""

from __future__ import annotations

import strawberry

from app.domain.conversations import service
from app.domain.errors import Refusal
from app.graphql.administration import ShareLinkType
from app.graphql.context import Info
from app.graphql.mutations.base import (
    Payload,
    UserError,
    change,
    input_pk,
    mutation,
    target_workspace,
)

SHARE = "conversations:share:own"  # the least scope; the conversation must fall within the held one


@strawberry.input(description="Names the conversation to share.")
class CreateConversationShareLinkInput:
    conversation_id: strawberry.ID = strawberry.field(description="The Conversation.")

    def target(self) -> str:
        return self.conversation_id

    def target_type(self) -> str:
        return "Conversation"


@strawberry.type(description="Result of createConversationShareLink.")
class CreateConversationShareLinkPayload(Payload):
    share_link: ShareLinkType | None = strawberry.field(default=None, description="The new link.")


@strawberry.type
class ConversationMutations:
    @mutation(
        "Create a share link. It is only a pointer: whoever opens it still needs permission to read the "
        "conversation.",
        SHARE,
    )
    async def create_conversation_share_link(
        self,
        info: Info,
        input: CreateConversationShareLinkInput,
    ) -> CreateConversationShareLinkPayload:
        ws = await target_workspace(info.context, input)
        membership = info.context.viewer.membership(ws) if ws is not None else None
        team_ids = membership.team_ids if membership else frozenset()
        # Out of reach (another workspace, no such row, outside the viewer's read or share
        # scope): one answer, whichever it is.
        result = await change(
            info,
            ws,
            SHARE,
            lambda s, actor, ws: service.create_share_link(
                s,
                ws,
                actor,
                input_pk(input.conversation_id, "Conversation", ["conversationId"]),
                team_ids=team_ids,
            ),
            missing=service.not_shareable(),
        )
        if isinstance(result, Refusal):
            return CreateConversationShareLinkPayload(user_errors=[UserError.of(result)])
        return CreateConversationShareLinkPayload(share_link=ShareLinkType(row=result))
