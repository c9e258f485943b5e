"""The Node interface and global-ID fields."""

from __future__ import annotations

from typing import Any

import strawberry

from app.graphql.directives import guard
from app.graphql.ids import encode_id


@strawberry.interface(
    description="An object with an opaque, type-tagged global ID (see `Query.node`)."
)
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


def node_id(type_name: str, *, workspace_scoped: bool = True) -> Any:
    """The ``id`` field of a Node type: encodes the row's primary key."""

    def resolve(root: Any) -> strawberry.ID:
        return strawberry.ID(encode_id(type_name, root.row.id))

    return strawberry.field(
        resolver=resolve,
        description=f"Opaque global ID of this {type_name}.",
        extensions=guard() if workspace_scoped else [],
    )
