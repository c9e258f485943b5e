"""Invitations after addMember: the invitee accepts or declines (acceptInvitation,
declineInvitation: their own token, no workspace permission: they are not a member
yet); the workspace withdraws one (revokeInvitation: ``members:create:all``, the
permission that sent it).

An invitation ID that does not name a pending invitation addressed to the viewer's
account is NOT_FOUND, exactly like one that does not exist. Only once it is known to
be the viewer's does the request enter its workspace's tenant context (the invitee is
not a member yet: row-level security lets them see the invitation and nothing else
there), so that the unit of work can lock the workspace and write the membership, the
deletion and the audit event.

Here rather than in app.graphql.invitations: acceptInvitation answers the Workspace
joined, and the Workspace type lists its invitations, so the invitations package stays
below this one (no import circle between the areas).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.viewer import Viewer
from app.domain.errors import Refusal
from app.domain.invitations import service
from app.domain.locks import lock_workspaces
from app.domain.members.memberships import membership_of
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.mutation import (
    Payload,
    Target,
    change,
    in_unit_of_work,
    input_pk,
    mutation,
    own_actor,
    own_mutation,
)
from app.graphql.workspaces.types import WorkspaceType

T = TypeVar("T")


@strawberry.input(description="Names an invitation addressed to you, to accept.")
class AcceptInvitationInput:
    invitation_id: strawberry.ID = strawberry.field(
        description="The Invitation (from `viewer.invitations`)."
    )


@strawberry.input(description="Names an invitation addressed to you, to decline.")
class DeclineInvitationInput:
    invitation_id: strawberry.ID = strawberry.field(
        description="The Invitation (from `viewer.invitations`)."
    )


@strawberry.input(description="Names a pending invitation of the workspace, to withdraw.")
class RevokeInvitationInput:
    invitation_id: strawberry.ID = strawberry.field(
        description="The Invitation (from `Workspace.invitations`)."
    )


@strawberry.type(description="Result of acceptInvitation.")
class AcceptInvitationPayload(Payload):
    workspace: WorkspaceType | None = strawberry.field(
        default=None, description="The workspace you are now a member of."
    )


@strawberry.type(description="Result of declineInvitation.")
class DeclineInvitationPayload(Payload):
    declined_invitation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of the invitation declined (now gone)."
    )


@strawberry.type(description="Result of revokeInvitation.")
class RevokeInvitationPayload(Payload):
    revoked_invitation_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of the invitation revoked (now gone)."
    )


async def _as_invitee(
    info: Info,
    global_id: str,
    work: Callable[[AsyncSession, int, int], Awaitable[T]],
) -> T:
    """Run ``work(session, workspace_id, invitation_id)`` as one unit of work in the
    workspace of the viewer's own invitation ``global_id``, or raise the Refusal (back
    in the tenant context the viewer's memberships allow)."""
    ctx = info.context
    viewer = ctx.viewer
    invitation_id = input_pk(global_id, "Invitation")  # another type's ID: found nothing
    found = await ctx.own.invitation(invitation_id)
    if found is None:
        await _leave(info)
        raise service.not_found()
    ws = found.workspace_id
    # Known to be the viewer's: enter its workspace (see the module's docstring).
    await ctx.db.enter(user_id=viewer.user_id, workspace_ids=[*viewer.workspace_ids, ws])

    async def locked(s: AsyncSession, _actors: Any) -> T:
        await lock_workspaces(s, [ws])  # the first statement of the change's transaction
        return await work(s, ws, invitation_id)

    try:
        return await in_unit_of_work(info, [], locked)
    except Refusal:
        await _leave(info)
        raise
    finally:
        ctx.forget(ws)


async def _leave(info: Info) -> None:
    """Back to the tenant context the viewer's memberships allow (after a decline or a
    refusal: the invitation's workspace is not theirs)."""
    ctx = info.context
    await ctx.db.enter(user_id=ctx.viewer.user_id, workspace_ids=ctx.viewer.workspace_ids)


async def _rejoined(info: Info, workspace_id: int) -> WorkspaceType | None:
    """After acceptance the viewer is a member of one more workspace than authentication
    saw: the request's viewer gains that membership, so that the payload (and anything
    after it in this request) reads the workspace like any of theirs."""
    ctx = info.context
    viewer = ctx.viewer
    rows = await ctx.own.memberships()
    memberships = dict(viewer.memberships)
    for row in rows:
        if row.workspace_id == workspace_id:
            memberships[workspace_id] = membership_of(row)
    ctx.viewer = Viewer(user=viewer.user, memberships=memberships, api_key_id=None)
    ctx.forget(workspace_id)
    joined = ctx.viewer.membership(workspace_id)
    return WorkspaceType.of(joined.workspace) if joined is not None else None


@strawberry.type
class InvitationMutations:
    @own_mutation(
        "Accept an invitation addressed to your account's e-mail: you become an ACTIVE "
        "member of its workspace with its role (the built-in Member role if that role was "
        "deleted since) and the teams that still exist, or your deactivated membership "
        "there is reactivated with them; the invitation is consumed. NOT_FOUND when the ID "
        "does not name a pending invitation of yours. Your own token only (API keys: "
        "FORBIDDEN)."
    )
    async def accept_invitation(
        self, info: Info, input: AcceptInvitationInput
    ) -> AcceptInvitationPayload:
        email, actor = info.context.viewer.user.email, own_actor(info)

        async def accept(s: AsyncSession, ws: int, invitation_id: int) -> int:
            await service.accept(s, ws, actor, invitation_id, email)
            return ws

        ws = await _as_invitee(info, input.invitation_id, accept)
        return AcceptInvitationPayload(workspace=await _rejoined(info, ws))

    @own_mutation(
        "Decline an invitation addressed to your account's e-mail: it is deleted. The "
        "workspace's audit log records that it was declined, without naming your account. "
        "NOT_FOUND when the ID does not name a pending invitation of yours. Your own token "
        "only (API keys: FORBIDDEN)."
    )
    async def decline_invitation(
        self, info: Info, input: DeclineInvitationInput
    ) -> DeclineInvitationPayload:
        email, actor = info.context.viewer.user.email, own_actor(info)

        async def decline(s: AsyncSession, ws: int, invitation_id: int) -> int:
            await service.decline(s, ws, actor, invitation_id, email)
            return invitation_id

        declined = await _as_invitee(info, input.invitation_id, decline)
        await _leave(info)
        return DeclineInvitationPayload(
            declined_invitation_id=strawberry.ID(encode_id("Invitation", declined))
        )

    @mutation(
        "Withdraw a pending invitation of the workspace (it is deleted; the invitee can no "
        "longer accept it). Needs the permission that sends invitations.",
        permission="members:create:all",
        target=Target("Invitation", "invitation_id"),
    )
    async def revoke_invitation(
        self, info: Info, input: RevokeInvitationInput
    ) -> RevokeInvitationPayload:
        revoked = await change(
            info, lambda s, actor, ws, invitation: service.revoke(s, ws, actor, invitation)
        )
        return RevokeInvitationPayload(
            revoked_invitation_id=strawberry.ID(encode_id("Invitation", revoked))
        )
