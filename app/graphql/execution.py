"""A faster execution of plain leaf fields.

Most fields of a page are leaves read straight off an already-built object (a
member's status, a user's name): Strawberry's "basic" fields. graphql-core still
builds a resolve-info, calls the resolver chain and completes the value for each of
them. ``GatewayExecutionContext`` answers such a field directly: the same
authorization check the field declares (``@requiresPermission``/``@requiresMembership``,
see app/graphql/directives.py), an attribute read, the type's output coercion.
Anything unusual (arguments, a null in a non-null field, a refused check, a value the
type cannot coerce) falls back to graphql-core's own path, which raises the same
errors it always would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.graphql.directives import field_permission

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


class GatewayExecutionContext(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # Strawberry always passes a manager; it matters only when it holds middleware.
        no_middleware = manager is None or not manager.middlewares
        self._plans: dict[tuple[str, str], PlainLeaf] = (
            (self.schema.extensions or {}).get(PLANS_KEY, {}) if no_middleware else {}
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
