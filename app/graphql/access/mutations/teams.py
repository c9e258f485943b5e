"""createTeam, updateTeam, deleteTeam."""

from __future__ import annotations

import strawberry

from app.domain.teams import service
from app.graphql.access.types import TeamType
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.mutation import WORKSPACE, Payload, Target, change, input_pks, mutation

TEAM = Target("Team", "team_id", missing=service.team_not_found)


@strawberry.input(description="A new team.")
class CreateTeamInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    name: str = strawberry.field(description="Unique in the workspace, 1-100 characters.")
    description: str = strawberry.field(default="", description="What the team does (max 500).")
    member_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Initial Members."
    )


@strawberry.input(description="Changes to a team. Omitted fields stay as they are.")
class UpdateTeamInput:
    team_id: strawberry.ID = strawberry.field(description="The Team.")
    name: str | None = strawberry.field(default=None, description="New name.")
    description: str | None = strawberry.field(default=None, description="New description.")
    member_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The team's members, replacing the current set."
    )


@strawberry.input(description="Names the team to delete.")
class DeleteTeamInput:
    team_id: strawberry.ID = strawberry.field(description="The Team.")


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
    @mutation("Create a team.", permission="teams:create:all", target=WORKSPACE)
    async def create_team(self, info: Info, input: CreateTeamInput) -> CreateTeamPayload:
        team = await change(
            info,
            lambda s, actor, ws, _: service.create_team(
                s,
                ws,
                actor,
                name=input.name,
                description=input.description,
                member_ids=input_pks(input.member_ids, "Member"),
            ),
        )
        return CreateTeamPayload(team=TeamType.of(team))

    @mutation(
        "Rename a team, describe it, or set its members.",
        permission="teams:update:all",
        target=TEAM,
    )
    async def update_team(self, info: Info, input: UpdateTeamInput) -> UpdateTeamPayload:
        team = await change(
            info,
            lambda s, actor, ws, team: service.update_team(
                s,
                ws,
                actor,
                team,
                name=input.name,
                description=input.description,
                member_ids=input_pks(input.member_ids, "Member")
                if input.member_ids is not None
                else None,
            ),
        )
        return UpdateTeamPayload(team=TeamType.of(team))

    @mutation(
        "Delete a team. Its conversations stay in the workspace, without a team.",
        permission="teams:delete:all",
        target=TEAM,
    )
    async def delete_team(self, info: Info, input: DeleteTeamInput) -> DeleteTeamPayload:
        deleted = await change(
            info,
            lambda s, actor, ws, team: service.delete_team(s, ws, actor, team),
        )
        return DeleteTeamPayload(deleted_team_id=strawberry.ID(encode_id("Team", deleted)))
