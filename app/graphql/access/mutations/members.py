"""Settings → Users: addMember (an invitation), updateMember, deactivateMember,
reactivateMember, removeMember."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import strawberry

from app.domain.invitations import service as invitations
from app.domain.members import service
from app.domain.members.service import MemberChange
from app.graphql.access.types import MemberType, members_of
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.invitations.types import InvitationType, invitations_in
from app.graphql.lookahead import selected
from app.graphql.mutation import (
    WORKSPACE,
    Payload,
    Target,
    change,
    input_pk,
    input_pks,
    mutation,
)
from app.models import Invitation, Member, MemberStatus, pk

MEMBER = Target("Member", "member_id")


@strawberry.input(
    description=(
        "Invite someone to a workspace by e-mail: they become a member when they accept "
        "(acceptInvitation)."
    )
)
class AddMemberInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    email: str = strawberry.field(description="The e-mail address to invite.")
    name: str | None = strawberry.field(
        default=None,
        description="Ignored.",
        deprecation_reason=(
            "addMember invites: an invitation holds only the e-mail address, and the person "
            "keeps their own account's name."
        ),
    )
    role_id: strawberry.ID | None = strawberry.field(
        default=None, description="Role given on acceptance; the built-in Member by default."
    )
    team_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Teams joined on acceptance."
    )


@strawberry.input(
    description="Change a member's role and/or teams. Omitted fields stay as they are."
)
class UpdateMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")
    role_id: strawberry.ID | None = strawberry.field(default=None, description="New role.")
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The member's teams, replacing the current set."
    )


@strawberry.input(description="Names the member to deactivate.")
class DeactivateMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")


@strawberry.input(description="Names the member to reactivate.")
class ReactivateMemberInput(DeactivateMemberInput):
    pass


@strawberry.input(description="Names the member to remove from the workspace.")
class RemoveMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")


@strawberry.type(description="Result of a member mutation.")
class MemberPayload(Payload):
    member: MemberType | None = strawberry.field(
        default=None, description="The member as it now is."
    )


@strawberry.type(description="Result of addMember.")
class AddMemberPayload(Payload):
    invitation: InvitationType | None = strawberry.field(
        default=None, description="The pending invitation created."
    )
    member: MemberType | None = strawberry.field(
        default=None,
        description="Always null.",
        deprecation_reason=(
            "addMember invites: the member exists once the invitee accepts. Read `invitation`."
        ),
    )


@strawberry.type(description="Result of updateMember.")
class UpdateMemberPayload(MemberPayload):
    pass


@strawberry.type(description="Result of deactivateMember.")
class DeactivateMemberPayload(MemberPayload):
    pass


@strawberry.type(description="Result of reactivateMember.")
class ReactivateMemberPayload(MemberPayload):
    pass


@strawberry.type(description="Result of removeMember.")
class RemoveMemberPayload(Payload):
    removed_member_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of the membership removed."
    )


async def _member(info: Info, member: Member) -> MemberType:
    """The member as the payload's selection wants it."""
    return (await members_of(info, member.workspace_id, [member], selected(info, ("member",))))[0]


async def _invitation(info: Info, row: Invitation) -> InvitationType:
    return (await invitations_in(info, row.workspace_id, [pk(row)]))[pk(row)]


def _set_status(status: MemberStatus) -> Callable[..., Awaitable[Member]]:
    return lambda s, actor, ws, member: service.set_member_status(s, ws, actor, member, status)


@strawberry.type
class MemberMutations:
    @mutation(
        "Invite someone by e-mail (Settings → Users → Add): a pending invitation, which they "
        "accept or decline; nothing of any account is read or shown, whether one exists or "
        "not. Refused with ALREADY_MEMBER when a member of this workspace has that address, "
        "ALREADY_INVITED when it has a pending invitation here.",
        permission="members:create:all",
        target=WORKSPACE,
    )
    async def add_member(self, info: Info, input: AddMemberInput) -> AddMemberPayload:
        invitation = await change(
            info,
            lambda s, actor, ws, _: invitations.invite(
                s,
                ws,
                actor,
                email=input.email,
                role_id=input_pk(input.role_id, "Role") if input.role_id else None,
                team_ids=input_pks(input.team_ids, "Team"),
            ),
        )
        return AddMemberPayload(invitation=await _invitation(info, invitation))

    @mutation(
        "Change a member's role and/or teams. Demoting the last active Admin is refused (SOLE_ADMIN).",
        permission="members:update:all",
        target=MEMBER,
    )
    async def update_member(self, info: Info, input: UpdateMemberInput) -> UpdateMemberPayload:
        member = await change(
            info,
            lambda s, actor, ws, member: service.update_member(
                s,
                ws,
                actor,
                member,
                MemberChange(
                    role_id=input_pk(input.role_id, "Role") if input.role_id else None,
                    team_ids=input_pks(input.team_ids, "Team")
                    if input.team_ids is not None
                    else None,
                ),
            ),
        )
        return UpdateMemberPayload(member=await _member(info, member))

    @mutation(
        "Deactivate a member: they lose access, their content stays, and the API keys they "
        "created here are revoked (reactivation does not bring them back). Not the last active "
        "Admin.",
        permission="members:update:all",
        target=MEMBER,
    )
    async def deactivate_member(
        self, info: Info, input: DeactivateMemberInput
    ) -> DeactivateMemberPayload:
        member = await change(info, _set_status(MemberStatus.DEACTIVATED))
        return DeactivateMemberPayload(member=await _member(info, member))

    @mutation(
        "Reactivate a deactivated member.",
        permission="members:update:all",
        target=MEMBER,
    )
    async def reactivate_member(
        self, info: Info, input: ReactivateMemberInput
    ) -> ReactivateMemberPayload:
        member = await change(info, _set_status(MemberStatus.ACTIVE))
        return ReactivateMemberPayload(member=await _member(info, member))

    @mutation(
        "Remove a member from the workspace: the membership and its teams are deleted and the "
        "API keys they created here revoked; their conversations and other content stay. "
        "Removing yourself is allowed; removing the last active Admin is refused (SOLE_ADMIN).",
        permission="members:delete:all",
        target=MEMBER,
    )
    async def remove_member(self, info: Info, input: RemoveMemberInput) -> RemoveMemberPayload:
        removed = await change(
            info, lambda s, actor, ws, member: service.remove_member(s, ws, actor, member)
        )
        return RemoveMemberPayload(removed_member_id=strawberry.ID(encode_id("Member", removed)))
