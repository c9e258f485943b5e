"""A mutation is declared once (app/graphql/mutation.py): the ``mutation(...)``
declaration on its field carries its permission and target, the SDL shows it, and the
guard and the unit of work both read it. These tests pin that rule:

- every Mutation field has exactly one declaration, and schema.graphql prints it;
- a permission is written nowhere in a module declaring mutations but in a declaration;
- services record changes through one helper (app/domain/changes.py) only;
- a field that cannot carry a refusal as its payload is refused at schema build;
- for every declared mutation, a custom role lacking the declared permission is refused
  by the guard (at authentication) and by the unit of work (when the permission is
  taken away between authentication and the workspace lock), changing nothing; the
  same request succeeds once the role holds it again.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import strawberry
from graphql import ObjectTypeDefinitionNode, StringValueNode, parse
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.permissions import InvalidPermissionError, PermissionSet, catalogue, parse_permission
from app.graphql import mutation as base
from app.graphql.mutation import WORKSPACE, Declaration, MutationField, mutation
from app.graphql.runtime import graphql_schema
from app.graphql.schema import schema
from app.models import Member, Role, RolePermission, pk
from tests import factories as f
from tests.client import GraphQLClient
from tests.graphql.mutations.helpers import digests
from tests.graphql.test_existence_oracles import RECIPES, arrange, document

ROOT = Path(__file__).resolve().parents[3]
GRAPHQL = ROOT / "app" / "graphql"
# The modules declaring Mutation fields (one per area, beside its types) and the shared
# declaration itself.
MUTATIONS = [GRAPHQL / "mutation.py"] + [
    path
    for path in sorted(GRAPHQL.rglob("*.py"))
    if "from app.graphql.mutation import" in path.read_text() and path.name != "schema.py"
]


def declarations() -> dict[str, list[Declaration]]:
    """Mutation field (GraphQL name) -> the declarations its field carries."""
    mutation_type = graphql_schema(schema).mutation_type
    assert mutation_type is not None
    return {
        name: [
            e.declaration
            for e in field.extensions["strawberry-definition"].extensions
            if isinstance(e, MutationField)
        ]
        for name, field in mutation_type.fields.items()
    }


def sdl_directives() -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Mutation field -> its directives as schema.graphql (the contract) prints them."""
    document_node = parse((ROOT / "schema.graphql").read_text())
    (mutation_type,) = [
        d
        for d in document_node.definitions
        if isinstance(d, ObjectTypeDefinitionNode) and d.name.value == "Mutation"
    ]
    out: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for field in mutation_type.fields or ():
        out[field.name.value] = [
            (
                d.name.value,
                {
                    a.name.value: a.value.value
                    for a in d.arguments or ()
                    if isinstance(a.value, StringValueNode)
                },
            )
            for d in field.directives or ()
        ]
    return out


def test_every_mutation_field_is_declared_once_and_the_sdl_shows_that_declaration() -> None:
    declared = declarations()
    printed = sdl_directives()
    assert set(printed) == set(declared)
    for name, found in declared.items():
        assert len(found) == 1, f"{name} carries {len(found)} declarations, not one"
        (declaration,) = found
        expected = (
            [("requiresUserToken", {})]
            if declaration.permission is None
            else [("requiresPermission", {"permission": declaration.permission})]
        )
        assert printed[name] == expected, name


def _string_constants(tree: ast.AST) -> Iterator[ast.Constant]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node


def _is_permission(text: str) -> bool:
    try:
        parse_permission(text)
    except InvalidPermissionError:
        return False
    return True


def _declared_permissions(tree: ast.AST) -> set[int]:
    """ids of the constants passed as ``permission=`` to a ``mutation(...)`` call."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "mutation"
        ):
            found.update(
                id(k.value)
                for k in node.keywords
                if k.arg == "permission" and isinstance(k.value, ast.Constant)
            )
    return found


def stray_permissions(source: str) -> list[str]:
    """Permission strings in ``source`` outside a ``mutation(..., permission=...)``."""
    tree = ast.parse(source)
    declared = _declared_permissions(tree)
    return [
        f"line {c.lineno}: {c.value}"
        for c in _string_constants(tree)
        if _is_permission(c.value) and id(c) not in declared
    ]


def test_no_permission_is_written_outside_a_mutation_declaration() -> None:
    strays = {
        path.relative_to(ROOT).as_posix(): found
        for path in MUTATIONS
        if (found := stray_permissions(path.read_text()))
    }
    assert strays == {}, (
        "a mutation's permission is stated once, as `permission=` of its `mutation(...)` "
        f"declaration; the unit of work reads it from there: {strays}"
    )


def test_the_lint_finds_a_permission_stated_a_second_time() -> None:
    """The check above can fail: a constant beside the declaration, or a permission
    passed to the unit of work, is found."""
    source = """
UPDATE = "teams:update:all"

@mutation("Rename a team.", permission="teams:update:all", target=TEAM)
async def update_team(info, input):
    return await change(info, "teams:update:all", work)
"""
    assert stray_permissions(source) == ["line 2: teams:update:all", "line 6: teams:update:all"]


def test_a_mutation_that_cannot_answer_a_refusal_is_refused_at_schema_build() -> None:
    @strawberry.type
    class Query:
        ping: int = 1

    @strawberry.type
    class Mutation:
        @mutation("Returns no payload.", permission="teams:create:all", target=WORKSPACE)
        async def bare(self, id: strawberry.ID) -> int:
            return 1

    with pytest.raises(TypeError, match="must return a Payload"):
        strawberry.Schema(query=Query, mutation=Mutation)


def test_changes_are_recorded_only_through_record_change() -> None:
    """One helper records a change (app/domain/changes.py): the place where webhooks will
    add their outbox row. No other module of app/ builds an audit event."""
    builders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "app").rglob("*.py"))
        if "migrations" not in path.parts and path.name != "changes.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "AuditEvent"
    ]
    assert builders == []


# --- the declared permission, refused by the guard and by the unit of work ---------------

DECLARED = sorted(
    name for name, found in declarations().items() if found and found[0].permission is not None
)
ADA = "ada@acme.test"  # acts in acme; given a custom role holding every permission


def _request(name: str, world: dict[str, str]) -> dict[str, Any]:
    """A valid input of ``name`` for ada in acme (the existence test's in-scope case)."""
    case = next(c for c in RECIPES[name] if c.caller == "ada" and c.a is not None)
    return {"input": case.build(world, world[case.a], case.home)}


async def _custom_role_for_ada(session: AsyncSession) -> int:
    """ada's acme membership now holds a custom role with every catalogued permission
    (ben stays acme's Admin); the role's id."""
    acme = await f.workspace_id(session, "acme")
    role = await f.create_role(session, acme, catalogue(), name="Everything")
    member = await f.member(session, acme, ADA)
    await session.execute(sa.update(Member).where(Member.id == pk(member)).values(role_id=pk(role)))
    await session.commit()
    return pk(role)


async def _take_away(engine: AsyncEngine, role: int, permission: str) -> list[str]:
    """Remove from the role every permission that grants ``permission``; those removed."""
    async with engine.begin() as conn:
        of_role = RolePermission.role_id == role
        held = (await conn.execute(sa.select(RolePermission.permission).where(of_role))).scalars()
        granting = [p for p in held if PermissionSet([p]).allows(permission)]
        assert granting, permission
        await conn.execute(
            sa.delete(RolePermission).where(of_role, RolePermission.permission.in_(granting))
        )
    return granting


async def _give_back(engine: AsyncEngine, role: int, permissions: list[str]) -> None:
    async with engine.begin() as conn:
        workspace = (
            await conn.execute(sa.select(Role.workspace_id).where(Role.id == role))
        ).scalar_one()
        await conn.execute(
            sa.insert(RolePermission),
            [{"workspace_id": workspace, "role_id": role, "permission": p} for p in permissions],
        )


def _forbidden(body: dict[str, Any], permission: str) -> bool:
    errors = body.get("errors") or []
    return body.get("data") is None and [
        (e["extensions"]["code"], e["message"]) for e in errors
    ] == [("FORBIDDEN", f"You need the permission {permission} in this workspace.")]


@pytest.mark.arranged.with_args(arrange)
@pytest.mark.parametrize("name", DECLARED)
async def test_the_declared_permission_is_required_by_the_guard_and_by_the_unit_of_work(
    name: str,
    client: GraphQLClient,
    arranged: tuple[dict[str, str], str],
    session: AsyncSession,
    owner_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (declaration,) = declarations()[name]
    permission = declaration.permission
    assert permission is not None
    world, _ = arranged
    role = await _custom_role_for_ada(session)
    query, variables = document(name), _request(name, world)
    token = await client.token(ADA)

    # Lacking it when the request authenticates: the guard refuses, before any lookup.
    taken = await _take_away(owner_engine, role, permission)
    before = await digests(owner_engine)
    body = await client.query(query, variables, token=token)
    assert _forbidden(body, permission), body
    assert await digests(owner_engine) == before

    # Held at authentication, taken away just before the workspace lock: the unit of
    # work re-reads the declared permission under the lock and refuses.
    await _give_back(owner_engine, role, taken)
    snapshots: list[dict[str, tuple[int, str]]] = []
    lock = base.lock_workspaces

    async def taken_away_first(s: AsyncSession, workspace_ids: Any) -> None:
        await _take_away(owner_engine, role, permission)
        snapshots.append(await digests(owner_engine))
        await lock(s, workspace_ids)

    monkeypatch.setattr(base, "lock_workspaces", taken_away_first)
    body = await client.query(query, variables, token=token)
    assert _forbidden(body, permission), body
    assert len(snapshots) == 1 and await digests(owner_engine) == snapshots[0]

    # Held throughout: the same request succeeds (the refusals above were the permission's).
    monkeypatch.setattr(base, "lock_workspaces", lock)
    await _give_back(owner_engine, role, taken)
    body = await client.query(query, variables, token=token)
    assert "errors" not in body and body["data"][name]["userErrors"] == [], body
