"""The fast path for plain leaf fields (app/graphql/execution.py) answers exactly what
graphql-core's own path would: same values, same checks, same errors."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry

from app.graphql.directives import enforce_declarations, scoped_field
from app.graphql.execution import PLANS_KEY, GatewayExecutionContext, plan_plain_leaves


@strawberry.type
class Thing:
    workspace_id: strawberry.Private[int]
    name: str = scoped_field("Anyone in the workspace.")
    secret: str | None = scoped_field("Needs billing.", "billing:read:all")
    count: int = scoped_field("Non-null.")


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [
            Thing(workspace_id=1, name="a", secret="s1", count=1),
            Thing(workspace_id=2, name="b", secret="s2", count=None),  # type: ignore[arg-type]
        ]


@dataclass
class FakeContext:
    # workspace id -> permissions held there (None: membership only)
    held: dict[int, set[str | None]] = field(default_factory=dict)

    def allows(self, workspace_id: int, permission: str | None) -> bool:
        return permission in self.held.get(workspace_id, set())


def build(fast: bool) -> strawberry.Schema:
    schema = strawberry.Schema(
        query=Query, execution_context_class=GatewayExecutionContext if fast else None
    )
    enforce_declarations(schema._schema)
    if fast:
        assert plan_plain_leaves(schema._schema) == 3
        assert set(schema._schema.extensions[PLANS_KEY]) == {
            ("Thing", "name"),
            ("Thing", "secret"),
            ("Thing", "count"),
        }
    return schema


async def run(
    fast: bool, context: FakeContext, query: str
) -> tuple[object, list[tuple[object, str]]]:
    result = await build(fast).execute(query, context_value=context)
    return result.data, [(e.path, e.message) for e in result.errors or []]


async def test_fast_path_gives_the_same_answers_and_errors() -> None:
    context = FakeContext(held={1: {None, "billing:read:all"}, 2: {None}})
    for query in (
        "{ things { name secret } }",
        "{ things { count } }",
        "{ things { alias: name, secret, name } }",
    ):
        assert await run(True, context, query) == await run(False, context, query), query


async def test_fast_path_refuses_what_the_declaration_refuses() -> None:
    data, errors = await run(
        True, FakeContext(held={1: {None}, 2: {None}}), "{ things { name secret } }"
    )
    assert data == {"things": [{"name": "a", "secret": None}, {"name": "b", "secret": None}]}
    assert errors == [
        (["things", 0, "secret"], "You need the permission billing:read:all in this workspace."),
        (["things", 1, "secret"], "You need the permission billing:read:all in this workspace."),
    ]
    data, errors = await run(True, FakeContext(held={1: {None}}), "{ things { name } }")
    assert data is None
    assert errors == [(["things", 1, "name"], "You are not an active member of this workspace.")]
