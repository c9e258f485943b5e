"""A faster execution of plain fields: leaves, and whole objects made only of them.

Most fields of a page are leaves read straight off an already-built object (a
member's status, a user's name): Strawberry's "basic" fields. graphql-core still
builds a resolve-info, calls the resolver chain and completes the value for each of
them. ``GatewayExecutionContext`` answers such a field directly: the same
authorization check the field declares (``@requiresPermission``/``@requiresMembership``,
see app/graphql/directives.py), an attribute read, the type's output coercion.
Anything unusual (arguments, a null in a non-null field, a refused check, a value the
type cannot coerce) falls back to graphql-core's own path, which raises the same
errors it always would.

One level up, an object whose selected fields are all plain (leaves, ``__typename``,
attributes holding further such objects or lists of them) is completed in one pass by
an ``ObjectPlan`` compiled once per (type, selection) per request: the list resolvers
build their items with every selected relation already attached
(app/graphql/lookahead.py), so a whole page of members resolves without a resolver
call. The plan runs every declared check; if any check, null or coercion would need an
error, the object is completed again by graphql-core, which reports it. A plan is
compiled into one Python function of straight-line code (``ObjectPlan.finish``): its
fields in order, its sub-plans' functions called directly, so that a page's fifty
members do not each walk the list of selected fields and their settings.

At the top, a query whose root fields are all argument-free and return such objects
(``{ viewer { id name } }``) gets a ``RootPlan`` after its first run: ``run_root`` calls
the root resolvers and their objects' plans without graphql-core's executor at all, and
falls back to it, from the start, on anything unusual (below).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfoHelpers,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    Undefined,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path

from app.graphql.directives import field_permission
from app.graphql.runtime import ExecutionContextBase

PLANS_KEY = "harmony.plain_leaf_fields"


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    attribute: str
    guarded: bool
    permission: str | None
    leaf: GraphQLScalarType | GraphQLEnumType
    non_null: bool


def plan_plain_leaves(schema: GraphQLSchema) -> int:
    """Find the fields that may take the fast path; returns how many."""
    plans: dict[tuple[str, str], PlainLeaf] = {}
    skip = {t.name for t in (schema.query_type, schema.mutation_type) if t is not None}
    for named in schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name in skip:
            continue
        for name, gql_field in named.fields.items():
            definition = (gql_field.extensions or {}).get("strawberry-definition")
            if definition is None or not definition.is_basic_field or gql_field.args:
                continue
            field_type = gql_field.type
            non_null = isinstance(field_type, GraphQLNonNull)
            leaf = field_type.of_type if non_null else field_type
            if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
                continue
            guarded, permission = field_permission(definition)
            plans[(named.name, name)] = PlainLeaf(
                definition.python_name, guarded, permission, leaf, non_null
            )
    schema.extensions = {**(schema.extensions or {}), PLANS_KEY: plans}
    return len(plans)


_FALLBACK = object()  # an ObjectPlan could not complete the object: use graphql-core
FALLBACK = _FALLBACK  # what run_root answers then
# What run_root answers for variables that do not coerce: graphql-core reports them, and
# no resolver ran (unlike after FALLBACK, nothing was read).
UNCOERCED = object()
# Built-in scalars whose output coercion returns a value of this class unchanged.
_PASSTHROUGH: dict[GraphQLScalarType | GraphQLEnumType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
}


@dataclass(slots=True)
class _Entry:
    response_name: str
    attribute: str | None  # None: __typename
    guarded: bool
    permission: str | None
    non_null: bool
    leaf: GraphQLScalarType | GraphQLEnumType | None = None  # a leaf, or a list's leaves
    plan: ObjectPlan | None = None  # an object, or the items of a list
    is_list: bool = False
    items_non_null: bool = False
    # A value of exactly this class is its own output (a str of a String or ID field):
    # no coercion call needed.
    passthrough: type | None = None
    type_name_of: str = ""  # __typename: the name it answers


@dataclass(slots=True)
class ObjectPlan:
    type_name: str
    # graphql-core's check that a value is of this type (set for Node types); the plan
    # checks nested values itself, as complete_object_value would.
    is_type_of: Any = None
    entries: list[_Entry] = field(default_factory=list)
    # The declared checks of the selected fields (a plan may serve many requests: the
    # decisions are the request's, through ``allows``).
    permissions: tuple[str | None, ...] = ()
    compiled: Callable[[Any, Any, dict[Any, Any]], Any] | None = None  # by finish()

    def run(self, allows: Any, source: Any) -> Any:
        """The object's response, or ``_FALLBACK`` (graphql-core completes it then)."""
        assert self.compiled is not None, "run after finish()"
        # ``done``: what this run completed, by (sub-plan, id of the object): an object
        # met again below it (a page's fifty members share a few roles and teams) gets
        # the same response, without running its plan again (``_once``).
        return self.compiled(allows, source, {})

    def finish(self) -> None:
        """Compile the plan into one Python function of straight-line code (its entries
        in order, sub-plans called directly): what a loop over the entries would do,
        without reading each entry's settings for every object of a page."""
        constants: dict[str, Any] = {
            "_FALLBACK": _FALLBACK,
            "Undefined": Undefined,
            "_built": _BUILT,
        }

        def constant(value: Any) -> str:
            name = f"_k{len(constants)}"
            constants[name] = value
            return name

        lines = ["def run(allows, source, done):"]
        if self.permissions:
            lines.append("    workspace_id = source.workspace_id")
            for permission in self.permissions:
                lines.append(f"    if not allows(workspace_id, {permission!r}):")
                lines.append("        return _FALLBACK  # graphql-core reports the refusal")
        lines.append("    out = {}")
        for e in self.entries:
            lines.extend(_entry_lines(e, constant))
        lines.append("    _built[0] += 1")
        lines.append("    return out")
        source = "\n".join(lines)
        # Plans of the same shape (a document's per-request plans, or two documents
        # selecting the same fields) share one function: compiling costs ~0.3 ms.
        key = (source, tuple(id(v) for v in constants.values()))
        found = _COMPILED.get(key)
        if found is None:
            namespace: dict[str, Any] = dict(constants)
            exec(compile(source, f"<plan {self.type_name}>", "exec"), namespace)  # noqa: S102 (our own code, built from the schema)
            found = namespace["run"]  # its globals keep the constants (and their ids) alive
            _COMPILED[key] = found
            if len(_COMPILED) > MAX_COMPILED_PLANS:
                del _COMPILED[next(iter(_COMPILED))]
        self.compiled = found


# How many objects the plans have built in this process, ever. A plan's run is
# synchronous (no await inside), so what it adds during one run is that run's objects:
# how ``run_root`` counts the objects of its answer without walking it (actual_cost).
_BUILT = [0]
MAX_COMPILED_PLANS = 4096
_COMPILED: dict[tuple[str, tuple[int, ...]], Callable[[Any, Any, dict[Any, Any]], Any]] = {}
# The classes each type's is_type_of accepted, shared by every plan of the type.
_ACCEPTED: dict[Any, set[type]] = {}


def _accepts(is_type_of: Any, accepted: set[type], value: Any) -> bool:
    if is_type_of(value, None) is True:
        accepted.add(type(value))
        return True
    return False


def _entry_lines(e: _Entry, constant: Any) -> list[str]:
    """The code of one entry, writing ``out[name]`` or returning ``_FALLBACK``."""
    key = repr(e.response_name)
    if e.attribute is None:
        return [f"    out[{key}] = {constant(e.type_name_of)}"]
    code = [
        f"    v = getattr(source, {e.attribute!r}, Undefined)",
        "    if v is None:",
        "        return _FALLBACK" if e.non_null else f"        out[{key}] = None",
        "    elif v is Undefined:",
        "        return _FALLBACK",
        "    else:",
    ]
    if e.leaf is not None:
        coerce = constant(e.leaf) + ".coerce_output_value"  # the type: one object per schema
        if e.is_list:  # a list of scalars or enum values
            refuse_null = " or c is None" if e.items_non_null else ""
            code += [
                "        items = []",
                "        for item in v:",
                f"            c = None if item is None else {coerce}(item)",
                f"            if c is Undefined{refuse_null}:",
                "                return _FALLBACK",
                "            items.append(c)",
                f"        out[{key}] = items",
            ]
            return code
        if e.passthrough is not None:
            code += [
                f"        if type(v) is {constant(e.passthrough)}:",
                f"            out[{key}] = v",
                "        else:",
                f"            c = {coerce}(v)",
                "            if c is None or c is Undefined:",
                "                return _FALLBACK",
                f"            out[{key}] = c",
            ]
            return code
        code += [
            f"        c = {coerce}(v)",
            "        if c is None or c is Undefined:",
            "            return _FALLBACK",
            f"        out[{key}] = c",
        ]
        return code
    assert e.plan is not None and e.plan.compiled is not None
    run = constant(e.plan.compiled)
    # A type without is_type_of accepts anything: no call for it; a class it accepted
    # before is looked up, not asked again.
    is_type_of = e.plan.is_type_of
    if is_type_of is None:
        call = "{run}(allows, {x}, done)"
    else:
        accepted = constant(_ACCEPTED.setdefault(is_type_of, set()))
        asks = f"{constant(_accepts)}({constant(is_type_of)}, {accepted}, {{x}})"
        call = (
            "{run}(allows, {x}, done) if type({x}) in "
            + accepted
            + " or "
            + asks
            + " else _FALLBACK"
        )
    if e.is_list:
        on_null = (
            "                return _FALLBACK"
            if e.items_non_null
            else "                items.append(None)\n                continue"
        )
        code += [
            "        items = []",
            "        for item in v:",
            "            if item is None:",
            on_null,
            *_once(" " * 12, run, call.format(run=run, x="item"), "item"),
            "            items.append(d)",
            f"        out[{key}] = items",
        ]
        return code
    code += [
        *_once(" " * 8, run, call.format(run=run, x="v"), "v"),
        f"        out[{key}] = d",
    ]
    return code


def _once(indent: str, run: str, call: str, x: str) -> list[str]:
    """``d = call`` (returning ``_FALLBACK`` if it does), made once per run for each
    object ``x``: met again, its response and object count are taken from ``done``,
    which holds ``x`` too (an object read off an attribute stays alive, so its id
    names no other object during the run)."""
    lines = [
        f"k = ({run}, id({x}))",
        "m = done.get(k)",
        "if m is None:",
        "    n = _built[0]",
        f"    d = {call}",
        "    if d is _FALLBACK:",
        "        return _FALLBACK",
        f"    done[k] = (d, _built[0] - n, {x})",
        "else:",
        "    d = m[0]",
        "    _built[0] += m[1]",
    ]
    return [indent + line for line in lines]


class GatewayExecutionContext(ExecutionContextBase):
    def __init__(
        self, *args: Any, plans: dict[tuple[str, tuple[int, ...]], Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Strawberry always passes a manager; it matters only when it holds middleware.
        no_middleware = manager is None or not manager.middlewares
        self._plans: dict[tuple[str, str], PlainLeaf] = (
            (self.schema.extensions or {}).get(PLANS_KEY, {}) if no_middleware else {}
        )
        # (type name, ids of the field nodes) -> compiled plan, or None when not plain. The
        # caller may pass the document's own cache (app.edge.operation): plans then
        # serve every request of that document, whose nodes it keeps alive.
        self._object_plans: dict[tuple[str, tuple[int, ...]], ObjectPlan | None] = (
            {} if plans is None else plans
        )

    def _object_plan(
        self, object_type: GraphQLObjectType, field_details_list: Any
    ) -> ObjectPlan | None:
        key = (object_type.name, tuple(id(d.node) for d in field_details_list))
        if key in self._object_plans:
            return self._object_plans[key]
        self._object_plans[key] = None  # guards against cycles while compiling
        plan = self._compile(object_type, field_details_list) if self._plans else None
        self._object_plans[key] = plan
        return plan

    def _compile(
        self, object_type: GraphQLObjectType, field_details_list: Any
    ) -> ObjectPlan | None:
        grouped, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        if new_defer_usages:
            return None
        plan = ObjectPlan(object_type.name, object_type.is_type_of)
        for response_name, sub_list in grouped.items():
            node = sub_list[0].node
            name = node.name.value
            if name == "__typename":
                typename = _Entry(response_name, None, False, None, True)
                typename.type_name_of = object_type.name
                plan.entries.append(typename)
                continue
            gql_field = object_type.fields.get(name)
            definition = (
                (gql_field.extensions or {}).get("strawberry-definition") if gql_field else None
            )
            if (
                gql_field is None
                or definition is None
                or not definition.is_basic_field
                or node.arguments
            ):
                return None
            guarded, permission = field_permission(definition)
            field_type = gql_field.type
            non_null = isinstance(field_type, GraphQLNonNull)
            inner = field_type.of_type if non_null else field_type
            entry = _Entry(response_name, definition.python_name, guarded, permission, non_null)
            if isinstance(inner, GraphQLList):
                entry.is_list = True
                entry.items_non_null = isinstance(inner.of_type, GraphQLNonNull)
                inner = inner.of_type.of_type if entry.items_non_null else inner.of_type
            if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
                entry.leaf = inner
                entry.passthrough = _PASSTHROUGH.get(inner)
            elif isinstance(inner, GraphQLObjectType):
                entry.plan = self._object_plan(inner, sub_list)
                if entry.plan is None:
                    return None
            else:
                return None  # a list of lists, or an abstract type: graphql-core's path
            plan.entries.append(entry)
        plan.permissions = tuple({e.permission for e in plan.entries if e.guarded})
        plan.finish()
        return plan

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        plan = self._object_plan(return_type, field_details_list)
        if plan is not None:
            done = plan.run(self.context_value.allows, result)
            if done is not _FALLBACK:
                return done
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any = None,
    ) -> Any:
        node = field_details_list[0].node
        plan = self._plans.get((parent_type.name, node.name.value))
        if plan is not None and not node.arguments:
            allowed = not plan.guarded or self.context_value.allows(
                source.workspace_id, plan.permission
            )
            if allowed:
                value = getattr(source, plan.attribute, Undefined)
                if value is None and not plan.non_null:
                    return None
                if value is not None and value is not Undefined:
                    coerced = plan.leaf.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


# ── The root of a simple query, without graphql-core's executor ───────────────────────
#
# A query such as ``{ viewer { id name } }`` spends more on graphql-core setting up its
# execution (the executor and its incremental machinery, field collection, the response
# builder) than on the one resolver call and the object plan that complete it; a page
# such as ``workspace(slug: $slug) { members(first: 50) { nodes { … } } }`` spends a
# tenth of its CPU there. A document whose selections down to its object plans are
# resolver fields only — one field per name, no fragment, no directive, each returning
# an object — gets a root plan after its first run through graphql-core: ``run_root``
# coerces the variables and each field's arguments with graphql-core's own functions,
# calls each resolver (Strawberry's own, with its extensions: the permission guards),
# and runs the object plans the first run compiled. Anything unusual — a variable that
# does not coerce (``UNCOERCED``), a null, a refused check, a value of another type
# (``_FALLBACK``), a resolver's exception (raised) — and the request runs through
# graphql-core from the start (resolvers read through the request's loaders, so a
# second call reads nothing again).


class _RootUnsupported(Exception):
    """A resolver asked the root path for graphql-core's async helpers."""


def _unsupported(*_: Any) -> Any:
    raise _RootUnsupported


@dataclass(frozen=True, slots=True)
class Step:
    """A field whose value its resolver gives, and how that object is completed: by the
    object plan its first run compiled, or by the steps of its own resolver fields."""

    response_name: str
    nodes: list[FieldNode]
    field: GraphQLField
    parent_type: GraphQLObjectType
    non_null: bool
    has_arguments: bool
    is_type_of: Any
    then: ObjectPlan | tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class RootPlan:
    schema: GraphQLSchema
    operation: OperationDefinitionNode
    steps: tuple[Step, ...]
    # The document's fragments by name: what a resolver's look-ahead follows below it
    # (app.graphql.lookahead), as under graphql-core.
    fragments: dict[str, FragmentDefinitionNode]


def root_plan(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    plans: dict[tuple[str, tuple[int, ...]], ObjectPlan | None],
) -> RootPlan | None:
    """The root plan of a query whose object plans its first run compiled, or None when
    it is not that simple (then graphql-core always runs it)."""
    query_type = schema.query_type
    if query_type is None or operation.operation != OperationType.QUERY or operation.directives:
        return None
    steps = _steps(query_type, operation.selection_set.selections, plans)
    if not steps:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return RootPlan(schema, operation, steps, fragments)


def _steps(
    parent_type: GraphQLObjectType,
    selections: Any,
    plans: dict[tuple[str, tuple[int, ...]], ObjectPlan | None],
) -> tuple[Step, ...] | None:
    steps: list[Step] = []
    seen: set[str] = set()
    for selection in selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        name = selection.name.value
        response_name = selection.alias.value if selection.alias else name
        gql_field = parent_type.fields.get(name)
        if response_name in seen or gql_field is None or gql_field.resolve is None:
            return None
        seen.add(response_name)
        field_type = gql_field.type
        non_null = isinstance(field_type, GraphQLNonNull)
        object_type = field_type.of_type if non_null else field_type
        if not isinstance(object_type, GraphQLObjectType) or selection.selection_set is None:
            return None
        then: ObjectPlan | tuple[Step, ...] | None = plans.get((object_type.name, (id(selection),)))
        if not isinstance(then, ObjectPlan) or then.compiled is None:
            then = _steps(object_type, selection.selection_set.selections, plans)
        if not then:
            return None
        steps.append(
            Step(
                response_name,
                [selection],
                gql_field,
                parent_type,
                non_null,
                bool(selection.arguments),
                object_type.is_type_of,
                then,
            )
        )
    return tuple(steps)


class _RootExecution:
    """What building a resolve-info reads of an execution context, for the root path:
    the request's own parts per instance, the rest (no root value, helpers that refuse)
    shared by every request."""

    __slots__ = (
        "context_value",
        "fragment_definitions",
        "is_awaitable",
        "objects",
        "operation",
        "schema",
        "variable_values",
    )

    root_value = None
    abort_signal = None
    async_helpers = GraphQLResolveInfoHelpers(gather=_unsupported, track=_unsupported)
    operation_extensions = None

    def __init__(
        self,
        root: RootPlan,
        context: Any,
        is_awaitable: Callable[[Any], bool],
        variable_values: VariableValues,
    ) -> None:
        self.schema = root.schema
        self.operation = root.operation
        self.fragment_definitions = root.fragments
        self.context_value = context
        self.is_awaitable = is_awaitable
        self.variable_values = variable_values
        self.objects = 0  # in the answer so far (``data`` itself not counted)


class CountedResult(ExecutionResult):
    """``run_root``'s answer: ``data``, and how many objects it holds, counted while it
    was built (its own dict not counted; what ``app.edge.analysis.actual_cost`` would
    count walking it)."""

    __slots__ = ("objects",)

    def __init__(self, data: dict[str, Any], *, objects: int) -> None:
        super().__init__(data, None)
        self.objects = objects


_NO_VARIABLES = VariableValues({}, {})


async def run_root(
    root: RootPlan,
    context: Any,
    is_awaitable: Callable[[Any], bool],
    variables: dict[str, Any] | None = None,
) -> Any:
    """The response's ``data`` with the count of its objects (``CountedResult``), or
    ``_FALLBACK`` or ``UNCOERCED`` (the caller runs graphql-core). An
    exception a resolver raised propagates: the caller falls back too, unless it is the
    database failing (answered for the whole request, as after graphql-core's run)."""
    definitions = root.operation.variable_definitions
    coerced: Any = _NO_VARIABLES
    if definitions:
        coerced = get_variable_values(root.schema, definitions, variables or {}, max_errors=1)
        if not isinstance(coerced, VariableValues):
            return UNCOERCED
    execution = _RootExecution(root, context, is_awaitable, coerced)
    data = await _completed(execution, root.steps, None, None)
    return data if data is _FALLBACK else CountedResult(data, objects=execution.objects)


async def _completed(
    execution: _RootExecution, steps: tuple[Step, ...], source: Any, path: Path | None
) -> Any:
    if path is not None:  # an object of the answer (the top level is ``data`` itself)
        execution.objects += 1
    if len(steps) == 1:
        done = await _resolved(execution, steps[0], source, path)
        return _FALLBACK if done is _FALLBACK else {steps[0].response_name: done}
    # Siblings resolve together, as graphql-core's would (their loaders batch alike), and
    # all of them end before a fallback starts over.
    values = await asyncio.gather(
        *(_resolved(execution, s, source, path) for s in steps), return_exceptions=True
    )
    for v in values:
        if isinstance(v, BaseException):
            raise v
    if any(v is _FALLBACK for v in values):
        return _FALLBACK
    return {s.response_name: v for s, v in zip(steps, values, strict=True)}


async def _resolved(execution: _RootExecution, step: Step, source: Any, path: Path | None) -> Any:
    # Strawberry's resolve-info (its execution context's method, which reads only the
    # attributes of _RootExecution; tests/graphql/test_execution_fast_path.py fails if
    # that changes, since every request would then fall back).
    here = Path(path, step.response_name, step.parent_type.name)
    info = ExecutionContextBase.build_resolve_info(
        execution,  # type: ignore[arg-type]
        step.field,
        step.nodes,
        step.parent_type,
        here,
    )
    arguments = (
        get_argument_values(step.field, step.nodes[0], execution.variable_values)
        if step.has_arguments
        else {}
    )
    value = step.field.resolve(source, info, **arguments)  # type: ignore[misc]
    if execution.is_awaitable(value):
        value = await value
    if value is None:
        return _FALLBACK if step.non_null else None
    is_type_of = step.is_type_of
    if is_type_of is not None and not _accepts(
        is_type_of, _ACCEPTED.setdefault(is_type_of, set()), value
    ):
        return _FALLBACK
    then = step.then
    if isinstance(then, ObjectPlan):
        before = _BUILT[0]
        done = then.run(execution.context_value.allows, value)
        execution.objects += _BUILT[0] - before
        return done
    return await _completed(execution, then, value, here)
