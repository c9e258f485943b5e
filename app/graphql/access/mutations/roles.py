"""createRole, updateRole, deleteRole (custom roles; the built-in Admin never changes)."""

from __future__ import annotations

import strawberry

from app.domain.roles import service
from app.graphql.access.types import RoleType
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.mutation import WORKSPACE, Payload, Target, change, mutation

ROLE = Target("Role", "role_id", missing=service.role_not_found)


@strawberry.input(description="A new custom role.")
class CreateRoleInput:
    workspace_id: strawberry.ID = strawberry.field(description="The Workspace.")
    name: str = strawberry.field(description="Unique in the workspace, 1-64 characters.")
    description: str = strawberry.field(default="", description="What the role is for (max 500).")
    permissions: list[str] = strawberry.field(
        description="Catalogued resource:action:scope strings (wildcard actions allowed); only ones you hold."
    )


@strawberry.input(description="Changes to a role. Omitted fields stay as they are.")
class UpdateRoleInput:
    role_id: strawberry.ID = strawberry.field(description="The Role (not the built-in Admin).")
    name: str | None = strawberry.field(default=None, description="New name (custom roles only).")
    description: str | None = strawberry.field(default=None, description="New description.")
    permissions: list[str] | None = strawberry.field(
        default=None, description="The full new permission list."
    )


@strawberry.input(description="Names the custom role to delete.")
class DeleteRoleInput:
    role_id: strawberry.ID = strawberry.field(description="The Role; nobody may still hold it.")


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
    @mutation(
        "Create a custom role. You can only grant permissions you hold (ESCALATION).",
        permission="roles:create:all",
        target=WORKSPACE,
    )
    async def create_role(self, info: Info, input: CreateRoleInput) -> CreateRolePayload:
        role = await change(
            info,
            lambda s, actor, ws, _: service.create_role(
                s,
                ws,
                actor,
                name=input.name,
                description=input.description,
                permissions=input.permissions,
            ),
        )
        return CreateRolePayload(role=RoleType.of(role))

    @mutation(
        "Edit a role. The built-in Admin is immutable; built-in roles keep their names.",
        permission="roles:update:all",
        target=ROLE,
    )
    async def update_role(self, info: Info, input: UpdateRoleInput) -> UpdateRolePayload:
        role = await change(
            info,
            lambda s, actor, ws, role: service.update_role(
                s,
                ws,
                actor,
                role,
                name=input.name,
                description=input.description,
                permissions=input.permissions,
            ),
        )
        return UpdateRolePayload(role=RoleType.of(role))

    @mutation(
        "Delete a custom role nobody holds (ROLE_IN_USE otherwise).",
        permission="roles:delete:all",
        target=ROLE,
    )
    async def delete_role(self, info: Info, input: DeleteRoleInput) -> DeleteRolePayload:
        deleted = await change(
            info, lambda s, actor, ws, role: service.delete_role(s, ws, actor, role)
        )
        return DeleteRolePayload(deleted_role_id=strawberry.ID(encode_id("Role", deleted)))
