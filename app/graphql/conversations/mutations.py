"""createConversationShareLink, revokeConversationShareLink."""

from __future__ import annotations

import strawberry

from app.domain.conversations import service
from app.graphql.context import Info
from app.graphql.conversations.types import SHARE, ShareLinkType
from app.graphql.ids import encode_id
from app.graphql.mutation import Payload, Target, change, mutation


@strawberry.input(description="Names the conversation to share.")
class CreateConversationShareLinkInput:
    conversation_id: strawberry.ID = strawberry.field(description="The Conversation.")


@strawberry.input(description="Names the share link to revoke.")
class RevokeConversationShareLinkInput:
    share_link_id: strawberry.ID = strawberry.field(
        description="The ShareLink (from `Conversation.shareLinks`)."
    )


@strawberry.type(description="Result of createConversationShareLink.")
class CreateConversationShareLinkPayload(Payload):
    share_link: ShareLinkType | None = strawberry.field(default=None, description="The new link.")


@strawberry.type(description="Result of revokeConversationShareLink.")
class RevokeConversationShareLinkPayload(Payload):
    revoked_share_link_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Global ID of the link revoked (now gone: opening it answers null).",
    )


def _team_ids(info: Info, workspace_id: int) -> frozenset[int]:
    """The viewer's teams in the workspace (what a team scope of sharing covers)."""
    membership = info.context.viewer.membership(workspace_id)
    return membership.team_ids if membership else frozenset()


@strawberry.type
class ConversationMutations:
    @mutation(
        "Create a share link. It is only a pointer: whoever opens it still needs permission to read the "
        "conversation.",
        # The least scope; the conversation must fall within the one held.
        permission=SHARE,
        # Out of reach (another workspace, no such row, outside the viewer's read or share
        # scope): one answer, whichever it is.
        target=Target("Conversation", "conversation_id", missing=service.not_shareable),
    )
    async def create_conversation_share_link(
        self,
        info: Info,
        input: CreateConversationShareLinkInput,
    ) -> CreateConversationShareLinkPayload:
        link = await change(
            info,
            lambda s, actor, ws, conversation: service.create_share_link(
                s, ws, actor, conversation, team_ids=_team_ids(info, ws)
            ),
        )
        return CreateConversationShareLinkPayload(share_link=ShareLinkType.of(link))

    @mutation(
        "Revoke a share link: opening it answers null from now on, like a link that never "
        "existed. Allowed to whoever may share its conversation.",
        permission=SHARE,
        # Out of reach (another workspace, no such link, its conversation outside the
        # viewer's read or share scope): one answer, whichever it is.
        target=Target("ShareLink", "share_link_id", missing=service.share_link_not_found),
    )
    async def revoke_conversation_share_link(
        self, info: Info, input: RevokeConversationShareLinkInput
    ) -> RevokeConversationShareLinkPayload:
        revoked = await change(
            info,
            lambda s, actor, ws, link: service.revoke_share_link(
                s, ws, actor, link, team_ids=_team_ids(info, ws)
            ),
        )
        return RevokeConversationShareLinkPayload(
            revoked_share_link_id=strawberry.ID(encode_id("ShareLink", revoked))
        )
