"""The Node interface and the ``id`` field of Node types."""

from __future__ import annotations

from typing import Any

import strawberry

from app.graphql.directives import scoped_field


@strawberry.interface(
    description="An object with an opaque, type-tagged global ID (see `Query.node`)."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


def id_argument(type_name: str) -> Any:
    """An argument that takes the global ID of a ``type_name`` (and of no other type)."""
    return strawberry.argument(
        description=(
            f"A `{type_name}.id`. An ID of another type, or one the API did not issue, is "
            "refused with `BAD_USER_INPUT`."
        )
    )


def node_id(type_name: str, *, workspace_scoped: bool = True) -> Any:
    """The ``id`` field of a Node type (set from ``encode_id`` when the object is built)."""
    description = f"Opaque global ID of this {type_name}."
    if workspace_scoped:
        return scoped_field(description)
    return strawberry.field(description=description)
