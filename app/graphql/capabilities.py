"""What a client can learn about permissions without hard-coding them: the catalogue
(``Query.permissionCatalogue``), the declaration of every field (``Query.fieldPermissions``),
and the ``viewerCan…`` flags.

Every answer here is read from the declarations the server enforces: the directives of
the built schema (``declared_requirements``: ``@requiresPermission`` of read fields and of
the ``mutation(..., permission=...)`` declarations). A flag names the fields it answers
for by coordinate (``Mutation.createTeam``), never a permission, and is decided by
``viewer_may``: the same ``Context.allows`` the guards run on the declared permission.
"""

from __future__ import annotations

from typing import Any

import strawberry

from app.auth.permissions import PermissionSet, catalogue_entries
from app.graphql.context import Context, Info
from app.graphql.directives import (
    FieldRequirement,
    PermissionRequirement,
    declared_requirements,
    scoped_field,
)
from app.graphql.enums import register
from app.graphql.runtime import raw_info

register(
    PermissionRequirement,
    "What a field's declaration asks of the viewer (the directive it carries in the SDL).",
    {
        PermissionRequirement.PERMISSION: "`@requiresPermission`: the viewer must hold `permission` in the workspace.",
        PermissionRequirement.MEMBERSHIP: "`@requiresMembership`: any active member of the workspace (or a key bound to it).",
        PermissionRequirement.USER_TOKEN: "`@requiresUserToken`: a user's own token; API keys are refused.",
    },
)


@strawberry.type(
    name="PermissionDefinition",
    description="One `resource:action` of the permission catalogue, as a custom role grants it.",
)
class PermissionDefinitionType:
    resource: str = strawberry.field(description="The resource, e.g. `conversations`.")
    action: str = strawberry.field(description="The action on it, e.g. `read`.")
    scopes: list[str] = strawberry.field(
        description="Scopes it can be granted at, narrowest first (`own` ⊂ `team` ⊂ `all`)."
    )
    permissions: list[str] = strawberry.field(
        description="The grantable strings, one per scope, e.g. `conversations:read:team`."
    )
    description: str = strawberry.field(description="What holding it lets one do.")


@strawberry.type(
    name="FieldPermission",
    description=(
        "What a field or mutation asks of the viewer: its directive in `schema.graphql`, "
        "readable with a query."
    ),
)
class FieldPermissionType:
    coordinate: str = strawberry.field(
        description="The schema coordinate `Type.field`, e.g. `Mutation.createTeam`."
    )
    requirement: PermissionRequirement = strawberry.field(description="The kind of declaration.")
    permission: str | None = strawberry.field(
        description="The permission needed (`resource:action:scope`) when `requirement` is PERMISSION."
    )

    @classmethod
    def of(cls, declared: FieldRequirement) -> FieldPermissionType:
        return cls(
            coordinate=declared.coordinate,
            requirement=declared.requirement,
            permission=declared.permission,
        )


def requirements(info: Info) -> dict[str, FieldRequirement]:
    """The declarations of the schema this request runs against."""
    return declared_requirements(raw_info(info).schema)


def viewer_may(ctx: Context, declared: FieldRequirement, workspace_id: int) -> bool:
    """Would the viewer pass the permission check of the declared field in the workspace?
    The check the guards run: ``Context.allows`` on the declared permission (for a
    Mutation naming an object, the unit of work's check in the object's workspace)."""
    if declared.requirement is PermissionRequirement.USER_TOKEN:
        return ctx.viewer.api_key_id is None
    return ctx.allows(workspace_id, declared.permission)


def viewer_permissions(info: Info, workspace_id: int) -> PermissionSet:
    """What the viewer holds in the workspace (what ``Context.allows`` decides on)."""
    membership = info.context.viewer.membership(workspace_id)
    return membership.permissions if membership is not None else PermissionSet(())


def may_call(info: Info, workspace_id: int, *coordinates: str) -> bool:
    """True when the viewer would pass the check of any of the fields named."""
    declared = requirements(info)
    return any(viewer_may(info.context, declared[c], workspace_id) for c in coordinates)


@strawberry.type
class CapabilityQueries:
    @strawberry.field(
        description=(
            "Every permission of the catalogue, by `resource:action`, with its scopes and "
            "what it allows: what a custom role may hold."
        )
    )
    def permission_catalogue(self) -> list[PermissionDefinitionType]:
        return [
            PermissionDefinitionType(
                resource=e.resource,
                action=e.action,
                scopes=[s.label for s in e.scopes],
                permissions=list(e.permissions),
                description=e.description,
            )
            for e in catalogue_entries()
        ]

    @strawberry.field(
        description=(
            "The declaration of every field that has one (`@requiresPermission`, "
            "`@requiresMembership`, `@requiresUserToken`), mutations included: the same "
            "declarations `schema.graphql` prints and the server enforces."
        )
    )
    def field_permissions(self, info: Info) -> list[FieldPermissionType]:
        return [FieldPermissionType.of(d) for d in requirements(info).values()]


def capability(description: str, *coordinates: str) -> Any:
    """A ``viewerCan`` flag: true when the viewer would pass the permission check of any
    of ``coordinates`` in the workspace."""

    def resolve(root: ViewerCapabilities, info: Info) -> bool:
        return may_call(info, root.workspace_id, *coordinates)

    resolve.coordinates = coordinates  # type: ignore[attr-defined]  # read by flag_coordinates

    calls = ", ".join(f"`{c.split('.', 1)[1]}`" for c in coordinates)
    return scoped_field(
        f"{description} (passes the permission check of {calls}).", resolver=resolve
    )


@strawberry.type(
    description=(
        "What the viewer may do here (to show or hide controls): each flag is the permission "
        "check of the fields it names, as the server runs it. Rules about a particular object "
        "(ESCALATION, SOLE_ADMIN) are answered by that object's `viewerCan…` fields."
    )
)
class ViewerCapabilities:
    workspace_id: strawberry.Private[int]

    update_settings = capability("Change the general settings", "Mutation.updateGeneralSettings")
    add_members = capability("Invite people", "Mutation.addMember")
    manage_members = capability(
        "Change, deactivate, reactivate or remove members",
        "Mutation.updateMember",
        "Mutation.deactivateMember",
        "Mutation.reactivateMember",
        "Mutation.removeMember",
    )
    remove_members = capability("Remove members", "Mutation.removeMember")
    manage_teams = capability(
        "Create, change or delete teams",
        "Mutation.createTeam",
        "Mutation.updateTeam",
        "Mutation.deleteTeam",
    )
    create_teams = capability("Create teams", "Mutation.createTeam")
    manage_roles = capability(
        "Create, edit or delete roles",
        "Mutation.createRole",
        "Mutation.updateRole",
        "Mutation.deleteRole",
    )
    create_roles = capability("Create custom roles", "Mutation.createRole")
    manage_integrations = capability(
        "Connect or disconnect integrations",
        "Mutation.connectIntegration",
        "Mutation.disconnectIntegration",
    )
    connect_integrations = capability("Connect integrations", "Mutation.connectIntegration")
    disconnect_integrations = capability(
        "Disconnect integrations", "Mutation.disconnectIntegration"
    )
    read_billing = capability("Read the subscription", "Workspace.subscription")
    manage_billing = capability("Cancel the subscription", "Mutation.cancelSubscription")
    manage_intelligence = capability(
        "Change the AI settings", "Mutation.updateIntelligenceSettings"
    )
    read_api_keys = capability("List the API keys", "Workspace.apiKeys")
    create_api_keys = capability("Create API keys", "Mutation.createApiKey")
    revoke_api_keys = capability("Revoke API keys", "Mutation.revokeApiKey")
    read_audit_log = capability("Read the audit log", "Workspace.auditEvents")


def flag_coordinates() -> dict[str, tuple[str, ...]]:
    """Each ``viewerCan`` flag (Python name) -> the coordinates it answers for."""
    return {
        f.graphql_name or f.name: f.base_resolver.wrapped_func.coordinates
        for f in ViewerCapabilities.__strawberry_definition__.fields  # type: ignore[attr-defined]
        if f.base_resolver is not None
    }
