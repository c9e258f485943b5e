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
error, the object is completed again by graphql-core, which reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    Undefined,
)

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
    accepted: set[type] = field(default_factory=set)  # classes is_type_of said yes to

    def accepts(self, value: Any) -> bool:
        if self.is_type_of is None or type(value) in self.accepted:
            return True
        if self.is_type_of(value, None) is True:
            self.accepted.add(type(value))
            return True
        return False

    def run(self, allows: Any, source: Any) -> Any:
        if self.permissions:
            workspace_id = source.workspace_id
            for permission in self.permissions:
                if not allows(workspace_id, permission):
                    return _FALLBACK  # graphql-core reports the refusal at its path
        out: dict[str, Any] = {}
        for e in self.entries:
            if e.attribute is None:
                out[e.response_name] = self.type_name
                continue
            value = getattr(source, e.attribute, Undefined)
            if value is None:
                if e.non_null:
                    return _FALLBACK
                out[e.response_name] = None
            elif value is Undefined:
                return _FALLBACK
            elif e.is_list and e.leaf is not None:  # a list of scalars or enum values
                leaves: list[Any] = []
                for item in value:  # type: ignore[union-attr]
                    coerced = None if item is None else e.leaf.coerce_output_value(item)
                    if coerced is Undefined or (coerced is None and e.items_non_null):
                        return _FALLBACK
                    leaves.append(coerced)
                out[e.response_name] = leaves
            elif e.leaf is not None:
                if type(value) is e.passthrough:
                    out[e.response_name] = value
                    continue
                coerced = e.leaf.coerce_output_value(value)
                if coerced is None or coerced is Undefined:
                    return _FALLBACK
                out[e.response_name] = coerced
            elif e.is_list:
                assert e.plan is not None
                items: list[Any] = []
                for item in value:  # type: ignore[union-attr]
                    if item is None:
                        if e.items_non_null:
                            return _FALLBACK
                        items.append(None)
                        continue
                    done = e.plan.run(allows, item) if e.plan.accepts(item) else _FALLBACK
                    if done is _FALLBACK:
                        return _FALLBACK
                    items.append(done)
                out[e.response_name] = items
            else:
                assert e.plan is not None
                done = e.plan.run(allows, value) if e.plan.accepts(value) else _FALLBACK
                if done is _FALLBACK:
                    return _FALLBACK
                out[e.response_name] = done
        return out


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
                plan.entries.append(_Entry(response_name, None, False, None, True))
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
