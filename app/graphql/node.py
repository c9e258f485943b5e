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


def node_id(type_name: str, *, workspace_scoped: bool = True) -> Any:
    """The ``id`` field of a Node type (set from ``encode_id`` when the object is built)."""
    description = f"Opaque global ID of this {type_name}."
    if workspace_scoped:
        return scoped_field(description)
    return strawberry.field(description=description)
