"""createRole, updateRole, deleteRole (custom roles; the built-in Admin never changes)."""

from __future__ import annotations

import strawberry

from app.domain.errors import Refusal
from app.domain.roles import service
from app.graphql.access import RoleType
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.mutations.base import (
    Payload,
    UserError,
    change,
    input_pk,
    mutation,
    target_workspace,
)

CREATE, UPDATE, DELETE = "roles:create:all", "roles:update:all", "roles:delete:all"


@strawberry.input(description="A new custom role.")
class CreateRoleInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    name: str = strawberry.field(description="Unique in the workspace, 1-64 characters.")
    description: str = strawberry.field(default="", description="What the role is for (max 500).")
    permissions: list[str] = strawberry.field(
        description="Catalogued resource:action:scope strings (wildcard actions allowed); only ones you hold."
    )

    def target(self) -> str:
        return self.workspace_id

    def target_type(self) -> str:
        return "Workspace"


@strawberry.input(description="Changes to a role. Omitted fields stay as they are.")
class UpdateRoleInput:
    role_id: strawberry.ID = strawberry.field(description="The Role (not the built-in Admin).")
    name: str | None = strawberry.field(default=None, description="New name (custom roles only).")
    description: str | None = strawberry.field(default=None, description="New description.")
    permissions: list[str] | None = strawberry.field(
        default=None, description="The full new permission list."
    )

    def target(self) -> str:
        return self.role_id

    def target_type(self) -> str:
        return "Role"


@strawberry.input(description="Names the custom role to delete.")
class DeleteRoleInput:
    role_id: strawberry.ID = strawberry.field(description="The Role; nobody may still hold it.")

    def target(self) -> str:
        return self.role_id

    def target_type(self) -> str:
        return "Role"


@strawberry.type(description="Result of createRole.")
class CreateRolePayload(Payload):
    role: RoleType | None = strawberry.field(default=None, description="The new role.")


@strawberry.type(description="Result of updateRole.")
class UpdateRolePayload(Payload):
    role: RoleType | None = strawberry.field(default=None, description="The role as it now is.")


@strawberry.type(description="Result of deleteRole.")
class DeleteRolePayload(Payload):
    deleted_role_id: strawberry.ID | None = strawberry.field(
        default=None, description="ID of the deleted role."
    )


@strawberry.type
class RoleMutations:
    @mutation("Create a custom role. You can only grant permissions you hold (ESCALATION).", CREATE)
    async def create_role(self, info: Info, input: CreateRoleInput) -> CreateRolePayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            CREATE,
            lambda s, actor, ws: service.create_role(
                s,
                ws,
                actor,
                name=input.name,
                description=input.description,
                permissions=input.permissions,
            ),
        )
        if isinstance(result, Refusal):
            return CreateRolePayload(user_errors=[UserError.of(result)])
        return CreateRolePayload(role=RoleType.of(result))

    @mutation(
        "Edit a role. The built-in Admin is immutable; built-in roles keep their names.", UPDATE
    )
    async def update_role(self, info: Info, input: UpdateRoleInput) -> UpdateRolePayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            UPDATE,
            lambda s, actor, ws: service.update_role(
                s,
                ws,
                actor,
                input_pk(input.role_id, "Role", ["roleId"]),
                name=input.name,
                description=input.description,
                permissions=input.permissions,
            ),
            missing=service.role_not_found(),
        )
        if isinstance(result, Refusal):
            return UpdateRolePayload(user_errors=[UserError.of(result)])
        return UpdateRolePayload(role=RoleType.of(result))

    @mutation("Delete a custom role nobody holds (ROLE_IN_USE otherwise).", DELETE)
    async def delete_role(self, info: Info, input: DeleteRoleInput) -> DeleteRolePayload:
        ws = await target_workspace(info.context, input)
        result = await change(
            info,
            ws,
            DELETE,
            lambda s, actor, ws: service.delete_role(
                s, ws, actor, input_pk(input.role_id, "Role", ["roleId"])
            ),
            missing=service.role_not_found(),
        )
        if isinstance(result, Refusal):
            return DeleteRolePayload(user_errors=[UserError.of(result)])
        return DeleteRolePayload(deleted_role_id=strawberry.ID(encode_id("Role", result)))
