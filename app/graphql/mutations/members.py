"""Settings → Users: addMember (an invitation), updateMember, deactivateMember,
reactivateMember, removeMember."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from app.domain.errors import Refusal
from app.domain.invitations import service as invitations
from app.domain.members import service
from app.domain.members.service import MemberChange
from app.graphql.access import MemberType, members_of
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.invitations import InvitationType, invitations_in
from app.graphql.lookahead import selected
from app.graphql.mutations.base import (
    Payload,
    UserError,
    change,
    input_pk,
    input_pks,
    mutation,
    target_workspace,
)
from app.models import Invitation, Member, MemberStatus, pk

CREATE, UPDATE, DELETE = "members:create:all", "members:update:all", "members:delete:all"


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

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


@strawberry.input(
    description="Change a member's role and/or teams. Omitted fields stay as they are."
)
class UpdateMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")
    role_id: strawberry.ID | None = strawberry.field(default=None, description="New role.")
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The member's teams, replacing the current set."
    )

    def target(self) -> str:
        return self.member_id

    def target_type(self) -> str:
        return "Member"


@strawberry.input(description="Names the member to deactivate.")
class DeactivateMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")

    def target(self) -> str:
        return self.member_id

    def target_type(self) -> str:
        return "Member"


@strawberry.input(description="Names the member to reactivate.")
class ReactivateMemberInput(DeactivateMemberInput):
    pass


@strawberry.input(description="Names the member to remove from the workspace.")
class RemoveMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")

    def target(self) -> str:
        return self.member_id

    def target_type(self) -> str:
        return "Member"


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


P = TypeVar("P", bound=MemberPayload)


async def _payload(info: Info, cls: type[P], result: Member | Refusal) -> P:
    if isinstance(result, Refusal):
        return cls(user_errors=[UserError.of(result)])
    built = await members_of(info, result.workspace_id, [result], selected(info, ("member",)))
    return cls(member=built[0])


async def _invitation(info: Info, row: Invitation) -> InvitationType:
    return (await invitations_in(info, row.workspace_id, [pk(row)]))[pk(row)]


async def _set_status(
    info: Info, cls: type[P], input: DeactivateMemberInput, status: MemberStatus
) -> P:
    member_global_id = input.member_id
    ws = await target_workspace(info.context, input)
    return await _payload(
        info,
        cls,
        await change(
            info,
            ws,
            UPDATE,
            lambda s, actor, ws: service.set_member_status(
                s, ws, actor, input_pk(member_global_id, "Member", ["memberId"]), status
            ),
        ),
    )


@strawberry.type
class MemberMutations:
    @mutation(
        "Invite someone by e-mail (Settings → Users → Add): a pending invitation, which they "
        "accept or decline; nothing of any account is read or shown, whether one exists or "
        "not. Refused with ALREADY_MEMBER when a member of this workspace has that address, "
        "ALREADY_INVITED when it has a pending invitation here.",
        CREATE,
    )
    async def add_member(self, info: Info, input: AddMemberInput) -> AddMemberPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            CREATE,
            lambda s, actor, ws: invitations.invite(
                s,
                ws,
                actor,
                email=input.email,
                role_id=input_pk(input.role_id, "Role", ["roleId"]) if input.role_id else None,
                team_ids=input_pks(input.team_ids, "Team", "teamIds"),
            ),
        )
        if isinstance(result, Refusal):
            return AddMemberPayload(user_errors=[UserError.of(result)])
        return AddMemberPayload(invitation=await _invitation(info, result))

    @mutation(
        "Change a member's role and/or teams. Demoting the last active Admin is refused (SOLE_ADMIN).",
        UPDATE,
    )
    async def update_member(self, info: Info, input: UpdateMemberInput) -> UpdateMemberPayload:
        ws = await target_workspace(info.context, input)
        return await _payload(
            info,
            UpdateMemberPayload,
            await change(
                info,
                ws,
                UPDATE,
                lambda s, actor, ws: service.update_member(
                    s,
                    ws,
                    actor,
                    input_pk(input.member_id, "Member", ["memberId"]),
                    MemberChange(
                        role_id=input_pk(input.role_id, "Role", ["roleId"])
                        if input.role_id
                        else None,
                        team_ids=input_pks(input.team_ids, "Team", "teamIds")
                        if input.team_ids is not None
                        else None,
                    ),
                ),
            ),
        )

    @mutation(
        "Deactivate a member: they lose access, their content stays, and the API keys they "
        "created here are revoked (reactivation does not bring them back). Not the last active "
        "Admin.",
        UPDATE,
    )
    async def deactivate_member(
        self, info: Info, input: DeactivateMemberInput
    ) -> DeactivateMemberPayload:
        return await _set_status(info, DeactivateMemberPayload, input, MemberStatus.DEACTIVATED)

    @mutation("Reactivate a deactivated member.", UPDATE)
    async def reactivate_member(
        self, info: Info, input: ReactivateMemberInput
    ) -> ReactivateMemberPayload:
        return await _set_status(info, ReactivateMemberPayload, input, MemberStatus.ACTIVE)

    @mutation(
        "Remove a member from the workspace: the membership and its teams are deleted and the "
        "API keys they created here revoked; their conversations and other content stay. "
        "Removing yourself is allowed; removing the last active Admin is refused (SOLE_ADMIN).",
        DELETE,
    )
    async def remove_member(self, info: Info, input: RemoveMemberInput) -> RemoveMemberPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            DELETE,
            lambda s, actor, ws: service.remove_member(
                s, ws, actor, input_pk(input.member_id, "Member", ["memberId"])
            ),
        )
        if isinstance(result, Refusal):
            return RemoveMemberPayload(user_errors=[UserError.of(result)])
        return RemoveMemberPayload(removed_member_id=strawberry.ID(encode_id("Member", result)))
