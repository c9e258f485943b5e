"""Look-ahead: which fields a query selects below the current one, so a list can be
loaded with its related rows up front (one statement per relation for the whole
page) and its items resolve synchronously, instead of one awaitable per item."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)

from app.graphql.context import Info
from app.graphql.runtime import raw_info


def _fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)


def selected(info: Info, *paths: tuple[str, ...]) -> frozenset[str]:
    """Names of the fields selected under the current field at each ``path`` (through
    fragments and aliases), e.g. ``selected(info, ("nodes",), ("edges", "node"))``.
    Computed once per (field node, paths): it depends on the document alone."""
    raw = raw_info(info)
    key = (tuple(id(n) for n in raw.field_nodes), paths)
    cache = info.context.shapes
    found = cache.get(key)
    if found is None:
        names: set[str] = set()
        for path in paths or ((),):
            sets = [n.selection_set for n in raw.field_nodes if n.selection_set is not None]
            for name in path:
                sets = [
                    f.selection_set
                    for s in sets
                    for f in _fields(s, raw.fragments)
                    if f.name.value == name and f.selection_set is not None
                ]
            names.update(f.name.value for s in sets for f in _fields(s, raw.fragments))
        found = cache[key] = frozenset(names)
    return found


# What each field of an object type made from a row is made of: its name in GraphQL ->
# the row's columns (declared next to the type's ``of``).
Reads = Mapping[str, tuple[str, ...]]


def columns_read(
    info: Info, paths: Sequence[tuple[str, ...]], reads: Reads
) -> frozenset[str] | None:
    """The columns that the fields selected at ``paths`` (under the current field) are
    made of, by the type's declared ``reads``, for a read that selects only those
    (app.db.prepared, ``narrowed``). None: read every column, because a field outside
    ``reads`` is selected (a resolver may read anything) or the fast paths are off
    (``FAST_PATHS=false`` reads whole rows, what the differential test compares with)."""
    if not paths or not info.context.settings.fast_paths:
        return None
    columns: set[str] = set()
    for name in selected(info, *paths):
        found = reads.get(name)
        if found is None:
            return None
        columns.update(found)
    return frozenset(columns)


def below(paths: Sequence[tuple[str, ...]], *names: str) -> list[tuple[str, ...]]:
    """Each of ``paths`` continued by ``names``."""
    return [(*path, *names) for path in paths]


# Fields of Query.viewer that are the account itself (no workspace involved).
_ACCOUNT_FIELDS = frozenset(
    {"__typename", "id", "email", "name", "avatarUrl", "status", "createdAt"}
)


# Root fields that read no workspace at all.
_ACCOUNT_ROOT_FIELDS = frozenset({"__typename", "rateLimit"})


def needs_workspaces(operation: OperationDefinitionNode) -> bool:
    """Does the operation read anything but the viewer's own account? Conservative:
    anything but plain account fields under ``viewer`` does. When it does not,
    authentication skips the memberships (app.edge.authenticate)."""
    if operation.operation != OperationType.QUERY:
        return True
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode):
            return True
        if selection.name.value in _ACCOUNT_ROOT_FIELDS:
            continue
        if selection.name.value != "viewer" or selection.selection_set is None:
            return True
        for sub in selection.selection_set.selections:
            if not isinstance(sub, FieldNode) or sub.name.value not in _ACCOUNT_FIELDS:
                return True
    return False
