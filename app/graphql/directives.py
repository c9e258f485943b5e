"""Field-level authorization: the declaration that prints in the SDL is the check
the server runs.

``guard("members:read:all")`` returns a field extension that (1) attaches
``@requiresPermission(permission: "members:read:all")`` to the field's definition
and (2) refuses to resolve the field unless the viewer holds that permission in the
workspace the parent object belongs to. ``guard()`` (no permission) attaches
``@requiresMembership``: any ACTIVE member of that workspace (or a key bound to it).
The parent object names its workspace through a ``workspace_id`` attribute.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.extensions.field_extension import (
    AsyncExtensionResolver,
    FieldExtension,
    SyncExtensionResolver,
)
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


class Guard(FieldExtension):
    __slots__ = ("directive", "permission")

    def __init__(self, permission: str | None = None) -> None:
        if permission is not None:
            parse_permission(permission)  # a typo fails at import, not at request time
        self.permission = permission
        self.directive: object = (
            RequiresPermission(permission=permission) if permission else RequiresMembership()
        )

    def apply(self, field: StrawberryField) -> None:
        field.directives.append(self.directive)

    def _check(self, source: Any, info: strawberry.Info) -> None:
        if not info.context.allows(source.workspace_id, self.permission):
            raise Forbidden(
                f"You need the permission {self.permission} in this workspace."
                if self.permission
                else "You are not an active member of this workspace."
            )

    def resolve(
        self, next_: SyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        self._check(source, info)
        return next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        self._check(source, info)
        return await next_(source, info, **kwargs)


def guard(permission: str | None = None) -> list[FieldExtension]:
    return [Guard(permission)]


def field_permission(field: StrawberryField) -> tuple[bool, str | None]:
    """(declared?, permission) of a field, read back from its directives."""
    for d in field.directives:
        if isinstance(d, RequiresPermission):
            return True, d.permission
        if isinstance(d, RequiresMembership):
            return True, None
    return False, None


def scoped_field(description: str, permission: str | None = None, **kwargs: Any) -> Any:
    """A field of a workspace-scoped type, with its authorization declaration."""
    return strawberry.field(description=description, extensions=guard(permission), **kwargs)
