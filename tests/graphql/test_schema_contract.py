"""The schema as a contract: schema.graphql is what the code generates, every field of a
workspace-scoped type declares its authorization, every type and field is described,
and no DataLoader lives at module level (loaders are per request)."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import strawberry
from aiodataloader import DataLoader
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
)
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

import app
from app.graphql.directives import field_permission, scoped_field
from app.graphql.runtime import graphql_schema
from app.graphql.schema import schema, sdl

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = ".venv/bin/python -m app export-schema > schema.graphql"


def test_schema_graphql_is_up_to_date() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "app", "export-schema"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == generated, (
        f"schema.graphql is stale: the code generates a different schema. Regenerate it "
        f"with `{REGENERATE}` and commit the result."
    )


# --- authorization completeness ---------------------------------------------------------
#
# Rule: a GraphQL object type is workspace-scoped when the Python class behind it names
# the workspace its objects belong to, through a `workspace_id` attribute, property or
# (private) dataclass field. That is exactly what the field guard reads to decide
# (app/graphql/directives.py), so "scoped" and "can be guarded" are the same thing.
# Every field of such a type must carry @requiresPermission or @requiresMembership.
# Root types (Query, Mutation), payloads, connections, edges and User are not scoped:
# their fields check access in their resolvers or only carry scoped objects.


def _origin(definition: StrawberryObjectDefinition) -> type:
    origin: type = definition.origin
    return origin


def is_workspace_scoped(definition: StrawberryObjectDefinition) -> bool:
    if definition.is_input or definition.is_interface:
        return False
    origin = _origin(definition)
    if hasattr(origin, "workspace_id"):
        return True
    return dataclasses.is_dataclass(origin) and any(
        f.name == "workspace_id" for f in dataclasses.fields(origin)
    )


def object_types(s: strawberry.Schema) -> list[tuple[str, GraphQLObjectType, Any]]:
    found = []
    for name, gql_type in s._schema.type_map.items():
        if isinstance(gql_type, GraphQLObjectType) and not name.startswith("__"):
            definition = (gql_type.extensions or {}).get("strawberry-definition")
            if isinstance(definition, StrawberryObjectDefinition):
                found.append((name, gql_type, definition))
    return found


def strawberry_field(gql_field: Any) -> StrawberryField:
    field = gql_field.extensions["strawberry-definition"]
    assert isinstance(field, StrawberryField)
    return field


def unguarded_fields(s: strawberry.Schema) -> list[str]:
    """`Type.field` for every field of a workspace-scoped type without a declaration."""
    return [
        f"{name}.{field_name}"
        for name, gql_type, definition in object_types(s)
        if is_workspace_scoped(definition)
        for field_name, gql_field in gql_type.fields.items()
        if not field_permission(strawberry_field(gql_field))[0]
    ]


def test_every_field_of_a_workspace_scoped_type_declares_its_authorization() -> None:
    scoped = [name for name, _, d in object_types(schema) if is_workspace_scoped(d)]
    # The rule finds the types it must (a sanity check on the rule itself).
    assert {"Workspace", "Member", "Team", "Role", "Conversation", "BillingSubscription"} <= set(
        scoped
    )
    assert unguarded_fields(schema) == [], (
        "these fields of workspace-scoped types have no authorization declaration: use "
        "scoped_field(description, permission) (app/graphql/directives.py)"
    )


def test_guards_are_only_on_types_that_name_their_workspace() -> None:
    """The guard reads `workspace_id` from the parent object: a guarded field on any other
    type would fail at request time."""
    misplaced = [
        f"{name}.{field_name}"
        for name, gql_type, definition in object_types(schema)
        if not is_workspace_scoped(definition) and name not in ("Query", "Mutation")
        for field_name, gql_field in gql_type.fields.items()
        if field_permission(strawberry_field(gql_field))[0]
    ]
    assert misplaced == []


@strawberry.type(description="A scoped type with one field forgotten.")
class Leaky:
    workspace_id: strawberry.Private[int]

    @scoped_field("Guarded.", "billing:read:all")
    def guarded(self) -> int:
        return 1

    @strawberry.field(description="Forgotten.")
    def forgotten(self) -> int:
        return 2


@strawberry.type(description="Entry points of the leaky schema.")
class LeakyQuery:
    @strawberry.field(description="Entry.")
    def leaky(self) -> Leaky:
        return Leaky(workspace_id=1)


def test_the_completeness_check_catches_an_unguarded_field() -> None:
    assert unguarded_fields(strawberry.Schema(query=LeakyQuery)) == ["Leaky.forgotten"]


def test_schema_prints_the_declarations() -> None:
    printed = sdl()
    assert "directive @requiresPermission(" in printed
    assert ") on FIELD_DEFINITION" in printed
    assert (
        'subscription: BillingSubscription @requiresPermission(permission: "billing:read:all")'
        in printed
    )


def test_the_published_schema_names_its_roots_and_has_no_type_named_subscription() -> None:
    """Tools that read schema.graphql take the roots from its schema block, or else from
    types named Query, Mutation and Subscription: the billing type must not be the last."""
    published = (ROOT / "schema.graphql").read_text()
    assert published.startswith("schema {\n  query: Query\n  mutation: Mutation\n}\n\n")
    built = build_schema(published)
    assert built.query_type is not None and built.query_type.name == "Query"
    assert built.mutation_type is not None and built.mutation_type.name == "Mutation"
    assert built.subscription_type is None
    assert "Subscription" not in built.type_map
    assert "BillingSubscription" in built.type_map


# --- descriptions ----------------------------------------------------------------------

BUILTIN_SCALARS = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed(core: GraphQLSchema) -> list[str]:
    """The schema coordinate of every type, field, argument and enum value without a
    description (built-in types and directives aside)."""
    missing = []
    for name, gql_type in core.type_map.items():
        if name.startswith("__") or name in BUILTIN_SCALARS:
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing.extend(
                    f"{name}.{field_name}({arg_name}:)"
                    for arg_name, arg in field.args.items()
                    if not arg.description
                )
        elif isinstance(gql_type, GraphQLInputObjectType):
            missing.extend(
                f"{name}.{field_name}"
                for field_name, field in gql_type.fields.items()
                if not field.description
            )
        elif isinstance(gql_type, GraphQLEnumType):
            missing.extend(
                f"{name}.{value_name}"
                for value_name, value in gql_type.values.items()
                if not value.description
            )
        else:
            assert isinstance(gql_type, GraphQLScalarType), name
    return missing


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    # The argument of @requiresPermission is left out: Strawberry does not carry the
    # descriptions of schema directives' arguments; the directive's own says what it takes.
    assert undescribed(graphql_schema(schema)) == []


@strawberry.enum(description="Colours.")
class Colour(enum.Enum):
    RED = "RED"
    GREEN = "GREEN"


@strawberry.type(description="Entry points of a schema with forgotten descriptions.")
class TerseQuery:
    @strawberry.field(description="A described field with an undescribed argument.")
    def paint(
        self,
        colour: Annotated[Colour, strawberry.argument(description="Described.")],
        coats: int,
    ) -> Colour:
        return colour


def test_the_description_check_catches_an_undescribed_argument_and_enum_value() -> None:
    assert undescribed(graphql_schema(strawberry.Schema(query=TerseQuery))) == [
        "TerseQuery.paint(coats:)",
        "Colour.RED",
        "Colour.GREEN",
    ]


def test_every_deprecation_gives_its_reason() -> None:
    """docs/deprecation.md: @deprecated says why, and what to use instead if anything."""
    core = graphql_schema(schema)
    reasons = {}
    for name, gql_type in core.type_map.items():
        if name.startswith("__"):
            continue
        members: dict[str, Any] = dict(getattr(gql_type, "fields", None) or {})
        if isinstance(gql_type, GraphQLEnumType):
            members = dict(gql_type.values)
        for member_name, member in members.items():
            if member.deprecation_reason is not None:
                reasons[f"{name}.{member_name}"] = member.deprecation_reason
            for arg_name, arg in (getattr(member, "args", None) or {}).items():
                if arg.deprecation_reason is not None:
                    reasons[f"{name}.{member_name}({arg_name}:)"] = arg.deprecation_reason
    assert "UserErrorCode.ACCOUNT_DEACTIVATED" in reasons  # the walk sees enum values
    too_short = {c: r for c, r in reasons.items() if len(r.split()) < 4}
    assert too_short == {}, "say why, and what replaces it (docs/deprecation.md)"


# --- no module-level loaders --------------------------------------------------------------

# Importing these runs something (the CLI, Alembic's environment).
NOT_IMPORTABLE = ("app.__main__", "app.migrations")


def app_modules() -> list[ModuleType]:
    modules = [app]
    for info in pkgutil.walk_packages(app.__path__, prefix="app."):
        if info.name.startswith(NOT_IMPORTABLE):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _loaders_in(value: Any) -> bool:
    if isinstance(value, DataLoader):
        return True
    if isinstance(value, dict):
        return any(_loaders_in(v) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_loaders_in(v) for v in value)
    return False


def test_no_dataloader_outlives_a_request() -> None:
    modules = app_modules()
    assert len(modules) > 30  # the walk found the package
    offenders = []
    for module in modules:
        for name, value in vars(module).items():
            if _loaders_in(value):
                offenders.append(f"{module.__name__}.{name}")
            if isinstance(value, type) and value.__module__ == module.__name__:
                offenders.extend(
                    f"{module.__name__}.{name}.{attr}"
                    for attr, class_value in vars(value).items()
                    if _loaders_in(class_value)
                )
    assert offenders == [], "DataLoaders must be created per request (app/graphql/context.py)"


async def test_the_loader_scan_would_see_a_module_level_loader() -> None:
    async def load(keys: list[int]) -> list[int]:
        return keys

    assert _loaders_in({"users": [DataLoader(batch_load_fn=load)]})
