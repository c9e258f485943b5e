"""The fuzz's targets, found by introspecting the built schema: every mutation and every
field that takes arguments, each with a path from ``Query`` to reach it and a selection
of what it returns. A field added to the schema is a target without any change here."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from graphql import (
    GraphQLField,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    is_leaf_type,
    is_required_argument,
)

SLUG = "slug"  # Query.workspace(slug:) opens a workspace on the way to its fields
SELECTION_DEPTH = 2


@dataclass(frozen=True)
class Target:
    """One field to drive: ``parent.name(args)``, reached through ``path`` (field names
    from the root; ``workspace`` takes ``$slug``)."""

    operation: str  # "query" or "mutation"
    parent: str
    name: str
    args: dict[str, GraphQLInputType]
    path: tuple[str, ...]
    selection: str

    @property
    def label(self) -> str:
        return f"{self.parent}.{self.name}"

    def document(self, variables: dict[str, object]) -> str:
        """The operation text; ``variables`` says which arguments are sent (an omitted
        one is left out of the call)."""
        used = [a for a in self.args if a in variables]
        definitions = [f"${a}: {self.args[a]}" for a in used]
        if self.path and self.path[0] == "workspace":
            definitions.append("$slug: String!")
        call = ", ".join(f"{a}: ${a}" for a in used)
        inner = f"{self.name}{f'({call})' if call else ''}{self.selection}"
        for step in reversed(self.path):
            opening = f"{step}(slug: $slug)" if step == "workspace" else step
            inner = f"{opening} {{ {inner} }}"
        head = f"({', '.join(definitions)})" if definitions else ""
        return f"{self.operation} Fuzz{head} {{ {inner} }}"


def _selection(schema: GraphQLSchema, type_: object, depth: int) -> str:
    named = get_named_type(type_)  # type: ignore[arg-type]
    if is_leaf_type(named):
        return ""
    if isinstance(named, GraphQLUnionType) or depth == 0:
        return " { __typename }"
    assert isinstance(named, GraphQLObjectType | GraphQLInterfaceType)
    parts = ["__typename"]
    for name, field in named.fields.items():
        if field.args:
            continue  # a target of its own
        below = _selection(schema, field.type, depth - 1)
        parts.append(f"{name}{below}")
    return " { " + " ".join(parts) + " }"


def _reachable(schema: GraphQLSchema) -> dict[str, tuple[str, ...]]:
    """A shortest path from Query to each object type, through fields that need no
    argument (and ``workspace(slug:)``)."""
    assert schema.query_type is not None
    paths: dict[str, tuple[str, ...]] = {schema.query_type.name: ()}
    queue = deque([schema.query_type])
    while queue:
        parent = queue.popleft()
        for name, field in parent.fields.items():
            needs = [a for a, arg in field.args.items() if is_required_argument(arg)]
            if needs and needs != [SLUG]:
                continue
            named = get_named_type(field.type)
            candidates = [named]
            if isinstance(named, GraphQLInterfaceType):
                candidates = list(schema.get_implementations(named).objects)
            for child in candidates:
                if isinstance(child, GraphQLObjectType) and child.name not in paths:
                    paths[child.name] = (*paths[parent.name], name)
                    queue.append(child)
    return paths


def targets(schema: GraphQLSchema) -> list[Target]:
    """Every mutation, then every reachable field that takes arguments."""
    found: list[Target] = []
    mutation = schema.mutation_type
    if mutation is not None:
        for name, field in mutation.fields.items():
            found.append(_target(schema, "mutation", mutation.name, name, field, ()))
    for type_name, path in _reachable(schema).items():
        parent = schema.type_map[type_name]
        assert isinstance(parent, GraphQLObjectType)
        for name, field in parent.fields.items():
            if field.args and not name.startswith("__"):
                found.append(_target(schema, "query", type_name, name, field, path))
    return found


def _target(
    schema: GraphQLSchema,
    operation: str,
    parent: str,
    name: str,
    field: GraphQLField,
    path: tuple[str, ...],
) -> Target:
    return Target(
        operation,
        parent,
        name,
        {a: arg.type for a, arg in field.args.items()},
        path,
        _selection(schema, field.type, SELECTION_DEPTH),
    )
