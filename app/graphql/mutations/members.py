"""Settings → Users: addMember, updateMember, deactivateMember, reactivateMember."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from app.domain.errors import Refusal
from app.domain.members import service
from app.domain.members.service import MemberChange
from app.graphql.access import MemberType, members_of
from app.graphql.context import Info
from app.graphql.lookahead import selected
from app.graphql.mutations.base import (
    Payload,
    UserError,
    change,
    input_pk,
    input_pks,
    mutation,
    workspace_of,
)
from app.models import Member, MemberStatus

CREATE, UPDATE = "members:create:all", "members:update:all"


@strawberry.input(
    description="Add someone to a workspace by email (their account is created if needed)."
)
class AddMemberInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    email: str = strawberry.field(description="Their email address.")
    name: str | None = strawberry.field(default=None, description="Display name for a new account.")
    role_id: strawberry.ID | None = strawberry.field(
        default=None, description="Role; the built-in Member by default."
    )
    team_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Teams to join."
    )

    def target(self) -> str:
        return self.workspace_id


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


@strawberry.input(description="Names the member to deactivate.")
class DeactivateMemberInput:
    member_id: strawberry.ID = strawberry.field(description="The Member.")

    def target(self) -> str:
        return self.member_id


@strawberry.input(description="Names the member to reactivate.")
class ReactivateMemberInput(DeactivateMemberInput):
    pass


@strawberry.type(description="Result of a member mutation.")
class MemberPayload(Payload):
    member: MemberType | None = strawberry.field(
        default=None, description="The member as it now is."
    )


@strawberry.type(description="Result of addMember.")
class AddMemberPayload(MemberPayload):
    pass


@strawberry.type(description="Result of updateMember.")
class UpdateMemberPayload(MemberPayload):
    pass


@strawberry.type(description="Result of deactivateMember.")
class DeactivateMemberPayload(MemberPayload):
    pass


@strawberry.type(description="Result of reactivateMember.")
class ReactivateMemberPayload(MemberPayload):
    pass


P = TypeVar("P", bound=MemberPayload)


async def _payload(info: Info, cls: type[P], result: Member | Refusal) -> P:
    if isinstance(result, Refusal):
        return cls(user_errors=[UserError.of(result)])
    built = await members_of(info, result.workspace_id, [result], selected(info, ("member",)))
    return cls(member=built[0])


async def _set_status(info: Info, cls: type[P], member_global_id: str, status: MemberStatus) -> P:
    ws = await workspace_of(info.context, member_global_id)
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
        "Add a member (Settings → Users → Add). Refused with ALREADY_MEMBER if they are one.",
        CREATE,
    )
    async def add_member(self, info: Info, input: AddMemberInput) -> AddMemberPayload:
        ws = await workspace_of(info.context, input.workspace_id)
        return await _payload(
            info,
            AddMemberPayload,
            await change(
                info,
                ws,
                CREATE,
                lambda s, actor, ws: service.add_member(
                    s,
                    ws,
                    actor,
                    email=input.email,
                    name=input.name,
                    role_id=input_pk(input.role_id, "Role", ["roleId"]) if input.role_id else None,
                    team_ids=input_pks(input.team_ids, "Team", "teamIds"),
                ),
            ),
        )

    @mutation(
        "Change a member's role and/or teams. Demoting the last active Admin is refused (SOLE_ADMIN).",
        UPDATE,
    )
    async def update_member(self, info: Info, input: UpdateMemberInput) -> UpdateMemberPayload:
        ws = await workspace_of(info.context, input.member_id)
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
        "Deactivate a member: they lose access, their content stays. Not the last active Admin.",
        UPDATE,
    )
    async def deactivate_member(
        self, info: Info, input: DeactivateMemberInput
    ) -> DeactivateMemberPayload:
        return await _set_status(
            info, DeactivateMemberPayload, input.member_id, MemberStatus.DEACTIVATED
        )

    @mutation("Reactivate a deactivated member.", UPDATE)
    async def reactivate_member(
        self, info: Info, input: ReactivateMemberInput
    ) -> ReactivateMemberPayload:
        return await _set_status(
            info, ReactivateMemberPayload, input.member_id, MemberStatus.ACTIVE
        )
