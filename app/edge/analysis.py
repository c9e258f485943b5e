"""Static analysis of a parsed document, before validation and before any SQL.

``check_limits`` measures a document once (then kept with it in the document cache):
fields and aliases counted after fragment expansion, the operation's root fields, the
nesting depth, directives per location, fragment definitions, list literals. Each
fragment is measured once and reused wherever it is spread, so a fragment that spreads
another twice, ten levels deep, costs ten measurements, not 2¹⁰; a cycle counts as
nothing here (validation then refuses it). Descent stops at the depth limit, so no
document can make this recurse further than ``max_depth``. A string literal holding
U+0000 is refused here, a variable holding one by ``check_variables`` (``NUL``).

``CostModel`` estimates what an operation may return, GitHub/Shopify style (docs/limits.md):
every object 1, scalars and enum values 0, a connection's items ``first`` (or ``last``)
times (``MAX_PAGE_SIZE`` when both are absent), ``nodes(ids:)`` once per ID, other lists
once (they are small and bounded by the workspace), a mutation 10 plus what its payload
selects. It reads ``first``/``last`` from the document or the request's variables, so an
operation whose sizes come from variables is estimated per request; otherwise the
estimate is kept with the document. ``actual_cost`` counts the objects a response holds
(an answer the root plan built comes counted: ``app.graphql.runtime.executor.CountedResult``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
)
from graphql.type.definition import GraphQLNamedType, GraphQLOutputType

from app.edge.errors import Refused

MUTATION_COST = 10
# Reading the schema: a fixed price, whatever is selected (the whole schema is about
# 1,400 objects; what a selection of it costs the server is bounded by the schema).
INTROSPECTION_COSTS = {"__schema": 100, "__type": 10}
# A connection's page size: from the start or from the end, counted alike.
PAGE_ARGUMENTS = ("first", "last")
CONNECTION_ITEMS = frozenset({"edges", "nodes"})
IDS_ARGUMENT = "ids"
# No field takes U+0000: PostgreSQL cannot store it in text, nor even compare it. Every
# string of a request (literals here, variables in check_variables) is checked once,
# before anything runs; other control characters are the fields' own business
# (app.domain.validation).
NUL = "\x00"
NUL_REFUSED = "holding U+0000 (NUL), which no argument accepts."


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_fields: int
    max_root_fields: int
    max_directives: int
    max_fragments: int
    max_list_length: int


def _refuse(code: str, what: str, limit: int, value: int | str) -> Refused:
    return Refused(code, f"The document {what}: the limit is {limit}, it has {value}.")


@dataclass(frozen=True, slots=True)
class _Measure:
    fields: int  # fields selected, fragments expanded
    aliases: int
    depth: int  # nesting of fields that have a selection set (introspection not counted)
    top: int  # fields at the top level of the selection set


_EMPTY = _Measure(0, 0, 0, 0)


class _Analysis:
    def __init__(self, document: DocumentNode, limits: Limits) -> None:
        self.limits = limits
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, _Measure] = {}
        self.in_progress: set[str] = set()

    def directives(self, directives: Iterable[DirectiveNode] | None) -> None:
        if not directives:
            return
        directives = tuple(directives)
        if len(directives) > self.limits.max_directives:
            raise _refuse(
                "TOO_MANY_DIRECTIVES",
                "has too many directives in one place",
                self.limits.max_directives,
                len(directives),
            )
        for directive in directives:
            for argument in directive.arguments or ():
                self.value(argument.value)

    def value(self, root: ValueNode) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            if isinstance(node, ListValueNode):
                if len(node.values) > self.limits.max_list_length:
                    raise _refuse(
                        "LIST_TOO_LONG",
                        "has a list argument that is too long",
                        self.limits.max_list_length,
                        len(node.values),
                    )
                stack.extend(node.values)
            elif isinstance(node, ObjectValueNode):
                stack.extend(f.value for f in node.fields)
            elif isinstance(node, StringValueNode) and NUL in node.value:
                raise Refused("BAD_USER_INPUT", f"The document has a string {NUL_REFUSED}")

    def fragment(self, name: str) -> _Measure:
        found = self.measured.get(name)
        if found is not None:
            return found
        definition = self.fragments.get(name)
        if definition is None or name in self.in_progress:
            return _EMPTY  # unknown or cyclic: validation reports it
        self.in_progress.add(name)
        self.directives(definition.directives)
        on_schema = definition.type_condition.name.value.startswith("__")
        measure = self.selection_set(definition.selection_set, 0, on_schema)
        self.in_progress.discard(name)
        self.measured[name] = measure
        return measure

    def selection_set(
        self, selection_set: SelectionSetNode, depth: int, introspective: bool = False
    ) -> _Measure:
        """``depth``: fields with a selection set above this one (within the operation
        or fragment being measured). Inside introspection (``__schema``, ``__type``, a
        fragment on an introspection type) nesting follows the schema's own types and is
        not counted: the parser's nesting limit bounds it."""
        fields = aliases = top = inner = 0
        for selection in selection_set.selections:
            self.directives(selection.directives)
            if isinstance(selection, FieldNode):
                fields += 1
                top += 1
                aliases += selection.alias is not None
                for argument in selection.arguments or ():
                    self.value(argument.value)
                if selection.selection_set is None:
                    continue
                schema_field = selection.name.value.startswith("__")
                counted = not (introspective or schema_field)
                if counted and depth + 1 > self.limits.max_depth:
                    raise _refuse(
                        "TOO_DEEP", "nests fields too deeply", self.limits.max_depth, depth + 1
                    )
                below = self.selection_set(
                    selection.selection_set, depth + counted, introspective or schema_field
                )
                fields += below.fields
                aliases += below.aliases
                inner = max(inner, below.depth + counted)
                continue
            if isinstance(selection, InlineFragmentNode):
                below = self.selection_set(selection.selection_set, depth, introspective)
            elif isinstance(selection, FragmentSpreadNode):
                below = self.fragment(selection.name.value)
                if not introspective and depth + below.depth > self.limits.max_depth:
                    raise _refuse(
                        "TOO_DEEP",
                        "nests fields too deeply",
                        self.limits.max_depth,
                        depth + below.depth,
                    )
            else:  # pragma: no cover - the parser makes no other selection
                continue
            fields += below.fields
            aliases += below.aliases
            top += below.top
            inner = max(inner, below.depth)
            # Counts may grow geometrically through nested spreads: stop as soon as
            # the whole document is over a limit.
            self.bound(fields, aliases)
        self.bound(fields, aliases)
        return _Measure(fields, aliases, 0 if introspective else inner, top)

    def bound(self, fields: int, aliases: int) -> None:
        """Counting stops at the first excess: the count is then a lower bound."""
        if fields > self.limits.max_fields:
            raise _refuse(
                "TOO_MANY_FIELDS",
                "selects too many fields (fragments expanded)",
                self.limits.max_fields,
                f"at least {fields}",
            )
        if aliases > self.limits.max_aliases:
            raise _refuse(
                "TOO_MANY_ALIASES",
                "has too many aliases",
                self.limits.max_aliases,
                f"at least {aliases}",
            )


def check_limits(document: DocumentNode, limits: Limits) -> None:
    """Refuse (``Refused``) a document over any static limit."""
    analysis = _Analysis(document, limits)
    if len(analysis.fragments) > limits.max_fragments:
        raise _refuse(
            "TOO_MANY_FRAGMENTS",
            "defines too many fragments",
            limits.max_fragments,
            len(analysis.fragments),
        )
    fields = aliases = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            analysis.directives(definition.directives)
            for variable in definition.variable_definitions or ():
                analysis.directives(variable.directives)
                if variable.default_value is not None:
                    analysis.value(variable.default_value)
            measure = analysis.selection_set(definition.selection_set, 0)
            if measure.top > limits.max_root_fields:
                raise _refuse(
                    "TOO_MANY_ROOT_FIELDS",
                    "selects too many root fields in one operation",
                    limits.max_root_fields,
                    measure.top,
                )
            fields += measure.fields
            aliases += measure.aliases
        elif isinstance(definition, FragmentDefinitionNode):
            analysis.fragment(definition.name.value)
        analysis.bound(fields, aliases)


def check_variables(variables: Mapping[str, Any] | None, max_list_length: int) -> None:
    """Lists in the request's variables obey the same length limit as list literals, and
    their strings the same rule (no NUL)."""
    if not variables:
        return
    stack: list[Any] = list(variables.values())
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            if len(value) > max_list_length:
                raise Refused(
                    "LIST_TOO_LONG",
                    f"A list in the variables is too long: the limit is {max_list_length}, "
                    f"it has {len(value)}.",
                )
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, str) and NUL in value:
            raise Refused("BAD_USER_INPUT", f"The variables have a string {NUL_REFUSED}")


# ---------------------------------------------------------------------------- cost


def _unwrap(type_: GraphQLOutputType) -> tuple[GraphQLNamedType, bool]:
    """The named type, and whether a list wraps it."""
    is_list = False
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return type_, is_list


class CostModel:
    """Estimates of one operation of a document (see the module docstring)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.operation = operation
        self.max_page_size = max_page_size
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.uses_variables = False
        self.fixed: int | None = None
        root = (
            schema.mutation_type
            if operation.operation == OperationType.MUTATION
            else schema.query_type
        )
        self.root = root

    def estimate(self, variables: Mapping[str, Any] | None) -> int:
        if self.fixed is not None:
            return self.fixed
        if self.root is None:
            return 0
        self.uses_variables = False
        memo: dict[tuple[str, int], int] = {}
        cost = self._selection_set(
            self.operation.selection_set, self.root, 1, variables or {}, memo, set(), True
        )
        if not self.uses_variables:
            self.fixed = cost
        return cost

    def _size(self, node: ValueNode | None, variables: Mapping[str, Any]) -> int | None:
        if node is None:
            return None
        if isinstance(node, VariableNode):
            self.uses_variables = True
            value = variables.get(node.name.value)
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(node, IntValueNode):
            return int(node.value)
        return None

    def _page(self, field: FieldNode, variables: Mapping[str, Any]) -> int:
        sizes = [
            self._size(argument.value, variables)
            for argument in field.arguments or ()
            if argument.name.value in PAGE_ARGUMENTS
        ]
        given = [s for s in sizes if s is not None]
        if not given:
            return self.max_page_size
        # Sizes outside 1..max, and `first` with `last`, are refused by the field itself
        # (BAD_USER_INPUT); the larger counts meanwhile.
        return min(max(*given, 1), self.max_page_size)

    def _ids(self, field: FieldNode, variables: Mapping[str, Any]) -> int:
        for argument in field.arguments or ():
            if argument.name.value != IDS_ARGUMENT:
                continue
            value = argument.value
            if isinstance(value, ListValueNode):
                return len(value.values)
            if isinstance(value, VariableNode):
                self.uses_variables = True
                given = variables.get(value.name.value)
                return len(given) if isinstance(given, list) else 1
        return 1

    def _selection_set(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        items: int,
        variables: Mapping[str, Any],
        memo: dict[tuple[str, int], int],
        active: set[str],
        is_root: bool = False,
    ) -> int:
        """Cost of one selection set on ``parent``; ``items`` is the page size a
        connection's ``edges``/``nodes`` lists take here (1 elsewhere)."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, items, variables, memo, active, is_root)
            elif isinstance(selection, InlineFragmentNode):
                on = (
                    self.schema.get_type(selection.type_condition.name.value)
                    if selection.type_condition
                    else parent
                )
                if on is not None:
                    total += self._selection_set(
                        selection.selection_set, on, items, variables, memo, active, is_root
                    )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                definition = self.fragments.get(name)
                if definition is None or name in active:
                    continue  # unknown or cyclic: validation refuses the document
                key = (name, items)
                if key not in memo:
                    on = self.schema.get_type(definition.type_condition.name.value)
                    active.add(name)
                    memo[key] = (
                        0
                        if on is None
                        else self._selection_set(
                            definition.selection_set, on, items, variables, memo, active, is_root
                        )
                    )
                    active.discard(name)
                total += memo[key]
        return total

    def _field(
        self,
        field: FieldNode,
        parent: GraphQLNamedType,
        items: int,
        variables: Mapping[str, Any],
        memo: dict[tuple[str, int], int],
        active: set[str],
        is_root: bool,
    ) -> int:
        if is_root and field.name.value in INTROSPECTION_COSTS:
            return INTROSPECTION_COSTS[field.name.value]
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 0
        definition = parent.fields.get(field.name.value)
        if definition is None or field.selection_set is None:
            return 0  # a leaf, or an unknown field (validation refuses it)
        named, is_list = _unwrap(definition.type)
        own = MUTATION_COST if is_root and parent is self.schema.mutation_type else 1
        inner_items = 1
        if PAGE_ARGUMENTS[0] in definition.args:
            inner_items = self._page(field, variables)  # a connection: its items, first times
        times = 1
        if is_list:
            if IDS_ARGUMENT in definition.args:
                times = self._ids(field, variables)
            elif field.name.value in CONNECTION_ITEMS:
                times = items
        below = self._selection_set(
            field.selection_set, named, inner_items, variables, memo, active
        )
        return times * (own + below)


def actual_cost(data: Any, is_mutation: bool) -> int:
    """Objects in a response's ``data`` (each root mutation field counts ``MUTATION_COST``).
    Runs on every response the root plan did not count while building it: a scalar
    costs one type check, never a push."""
    if type(data) is not dict:
        return 0
    total = 0
    stack: list[Any] = []
    for value in data.values():
        if type(value) is dict:
            total += MUTATION_COST if is_mutation else 1
            stack.append(value)
        elif type(value) is list:
            stack.append(value)
    while stack:
        container = stack.pop()
        for value in container.values() if type(container) is dict else container:
            kind = type(value)
            if kind is dict:
                total += 1
                stack.append(value)
            elif kind is list:
                stack.append(value)
    return total
