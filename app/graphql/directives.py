"""Field-level authorization: the declaration that prints in the SDL is the check
the server runs.

``scoped_field(description, "members:read:all")`` attaches
``@requiresPermission(permission: "members:read:all")`` to the field's definition;
``scoped_field(description)`` attaches ``@requiresMembership`` (any ACTIVE member of
the workspace, or a key bound to it). When the schema is built,
``enforce_declarations`` reads those directives back from every field and wraps its
resolver with the check: the viewer must hold the permission in the workspace the
parent object belongs to (named by its ``workspace_id`` attribute). What prints in
the SDL is therefore exactly what runs.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo, GraphQLSchema
from strawberry.schema_directive import Location
from strawberry.types.field import StrawberryField

from app.auth.permissions import parse_permission
from app.graphql.errors import Forbidden


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresPermission",
    description=(
        "The viewer must hold this permission (resource:action:scope) in the workspace "
        "the parent object belongs to; otherwise the field resolves to a FORBIDDEN error."
    ),
)
class RequiresPermission:
    permission: str


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresMembership",
    description=(
        "Any active member of the workspace the parent object belongs to (or an API key "
        "bound to it) may read this field."
    ),
)
class RequiresMembership:
    pass


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresUserToken",
    description="Only a user's own token may call this field; API keys are refused (FORBIDDEN).",
)
class RequiresUserToken:
    pass


def field_permission(field: StrawberryField) -> tuple[bool, str | None]:
    """(declared?, permission) of a field, read back from its directives."""
    for d in field.directives:
        if isinstance(d, RequiresPermission):
            return True, d.permission
        if isinstance(d, RequiresMembership):
            return True, None
    return False, None


def declaration(permission: str | None) -> object:
    if permission is None:
        return RequiresMembership()
    parse_permission(permission)  # a typo fails at import, not at request time
    return RequiresPermission(permission=permission)


def scoped_field(description: str, permission: str | None = None, **kwargs: Any) -> Any:
    """A field of a workspace-scoped type, with its authorization declaration.

    The declaration is only a directive here; ``enforce_declarations`` turns every such
    directive of the built schema into the check. A field without a resolver stays a
    plain attribute read (Strawberry's fast path), guarded by one dictionary lookup.
    """
    directives = [*kwargs.pop("directives", []), declaration(permission)]
    return strawberry.field(description=description, directives=directives, **kwargs)


def _guarded(resolve: Callable[..., Any], permission: str | None) -> Callable[..., Any]:
    message = (
        f"You need the permission {permission} in this workspace."
        if permission
        else "You are not an active member of this workspace."
    )

    def guarded(source: Any, info: GraphQLResolveInfo[Any], **kwargs: Any) -> Any:
        if not info.context.allows(source.workspace_id, permission):
            raise Forbidden(message)
        return resolve(source, info, **kwargs)

    return guarded


def enforce_declarations(schema: GraphQLSchema) -> int:
    """Wrap the resolver of every field that declares ``@requiresPermission`` or
    ``@requiresMembership`` (outside the Mutation type, whose fields check the
    workspace their input targets) so that it refuses unless the viewer holds the
    permission in the parent object's workspace. Returns how many fields it guarded."""
    guarded = 0
    skip = {t.name for t in (schema.query_type, schema.mutation_type) if t is not None}
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name in skip:
            continue
        for gql_field in named.fields.values():
            definition = (gql_field.extensions or {}).get("strawberry-definition")
            if definition is None:
                continue
            declared, permission = field_permission(definition)
            if declared and gql_field.resolve is not None:
                gql_field.resolve = _guarded(gql_field.resolve, permission)
                guarded += 1
    return guarded


class PermissionRequirement(enum.Enum):
    """What a field's declaration asks of the viewer."""

    PERMISSION = "requiresPermission"
    MEMBERSHIP = "requiresMembership"
    USER_TOKEN = "requiresUserToken"  # noqa: S105 - a directive name


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """A field's declaration as the SDL prints it: ``coordinate`` ``Type.field``."""

    coordinate: str
    requirement: PermissionRequirement
    permission: str | None = None


def _requirement(field: StrawberryField) -> tuple[PermissionRequirement, str | None] | None:
    for d in field.directives:
        if isinstance(d, RequiresPermission):
            return PermissionRequirement.PERMISSION, d.permission
        if isinstance(d, RequiresMembership):
            return PermissionRequirement.MEMBERSHIP, None
        if isinstance(d, RequiresUserToken):
            return PermissionRequirement.USER_TOKEN, None
    return None


@functools.cache
def declared_requirements(schema: GraphQLSchema) -> dict[str, FieldRequirement]:
    """Every declared field of the built schema, by coordinate, in schema order: read
    from the directives that print in the SDL (and that ``enforce_declarations`` and the
    Mutation guard turn into the checks), so it cannot say anything else."""
    found: dict[str, FieldRequirement] = {}
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for name, gql_field in named.fields.items():
            definition = (gql_field.extensions or {}).get("strawberry-definition")
            declared = _requirement(definition) if definition is not None else None
            if declared is not None:
                coordinate = f"{named.name}.{name}"
                found[coordinate] = FieldRequirement(coordinate, *declared)
    return found
