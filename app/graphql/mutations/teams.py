"""createTeam, updateTeam, deleteTeam."""

from __future__ import annotations

import strawberry

from app.domain.errors import Refusal
from app.domain.teams import service
from app.graphql.access import TeamType
from app.graphql.context import Info
from app.graphql.ids import decode_id_of, encode_id
from app.graphql.mutations.base import (
    Payload,
    UserError,
    change,
    input_pk,
    mutation,
    target_workspace,
)
from app.models import Team

CREATE, UPDATE, DELETE = "teams:create:all", "teams:update:all", "teams:delete:all"


def member_pks(global_ids: list[strawberry.ID]) -> list[int | None]:
    """Member pks; None for an ID of another type, which the service answers like a
    member that does not exist (no lookup tells the two apart)."""
    return [decode_id_of(g, "Member") for g in global_ids]


@strawberry.input(description="A new team.")
class CreateTeamInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    name: str = strawberry.field(description="Unique in the workspace, 1-100 characters.")
    description: str = strawberry.field(default="", description="What the team does (max 500).")
    member_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Initial Members."
    )

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


@strawberry.input(description="Changes to a team. Omitted fields stay as they are.")
class UpdateTeamInput:
    team_id: strawberry.ID = strawberry.field(description="The Team.")
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    member_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The team's members, replacing the current set."
    )

    def target(self) -> str:
        return self.team_id

    def target_type(self) -> str:
        return "Team"


@strawberry.input(description="Names the team to delete.")
class DeleteTeamInput:
    team_id: strawberry.ID = strawberry.field(description="The Team.")

    def target(self) -> str:
        return self.team_id

    def target_type(self) -> str:
        return "Team"


@strawberry.type(description="Result of createTeam.")
class CreateTeamPayload(Payload):
    team: TeamType | None = strawberry.field(default=None, description="The new team.")


@strawberry.type(description="Result of updateTeam.")
class UpdateTeamPayload(Payload):
    team: TeamType | None = strawberry.field(default=None, description="The team as it now is.")


@strawberry.type(description="Result of deleteTeam.")
class DeleteTeamPayload(Payload):
    deleted_team_id: strawberry.ID | None = strawberry.field(
        default=None, description="ID of the deleted team."
    )


@strawberry.type
class TeamMutations:
    @mutation("Create a team.", CREATE)
    async def create_team(self, info: Info, input: CreateTeamInput) -> CreateTeamPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            CREATE,
            lambda s, actor, ws: service.create_team(
                s,
                ws,
                actor,
                name=input.name,
                description=input.description,
                member_ids=member_pks(input.member_ids),
            ),
        )
        if isinstance(result, Refusal):
            return CreateTeamPayload(user_errors=[UserError.of(result)])
        return CreateTeamPayload(team=TeamType.of(result))

    @mutation("Rename a team, describe it, or set its members.", UPDATE)
    async def update_team(self, info: Info, input: UpdateTeamInput) -> UpdateTeamPayload:
        ws = await target_workspace(info.context, input)
        result: Team | Refusal = await change(
            info,
            ws,
            UPDATE,
            lambda s, actor, ws: service.update_team(
                s,
                ws,
                actor,
                input_pk(input.team_id, "Team", ["teamId"]),
                name=input.name,
                description=input.description,
                member_ids=member_pks(input.member_ids) if input.member_ids is not None else None,
            ),
            missing=service.team_not_found(),
        )
        if isinstance(result, Refusal):
            return UpdateTeamPayload(user_errors=[UserError.of(result)])
        return UpdateTeamPayload(team=TeamType.of(result))

    @mutation("Delete a team. Its conversations stay in the workspace, without a team.", DELETE)
    async def delete_team(self, info: Info, input: DeleteTeamInput) -> DeleteTeamPayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            DELETE,
            lambda s, actor, ws: service.delete_team(
                s, ws, actor, input_pk(input.team_id, "Team", ["teamId"])
            ),
            missing=service.team_not_found(),
        )
        if isinstance(result, Refusal):
            return DeleteTeamPayload(user_errors=[UserError.of(result)])
        return DeleteTeamPayload(deleted_team_id=strawberry.ID(encode_id("Team", result)))
