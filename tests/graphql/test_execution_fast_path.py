"""The fast path for plain leaf fields (app/graphql/runtime/executor.py) answers exactly what
graphql-core's own path would: same values, same checks, same errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, OperationDefinitionNode

from app.edge.analysis import actual_cost
from app.graphql.directives import enforce_declarations, scoped_field
from app.graphql.runtime import is_awaitable
from app.graphql.runtime.executor import (
    FALLBACK,
    PLANS_KEY,
    UNCOERCED,
    CountedResult,
    GatewayExecutionContext,
    ObjectPlan,
    plan_plain_leaves,
    root_plan,
    run_root,
)
from tests.client import GraphQLClient


@strawberry.type
class Part:
    workspace_id: strawberry.Private[int]
    label: str = scoped_field("A part's label.")
    price: int | None = scoped_field("Needs billing.", "billing:read:all")


@strawberry.type
class Thing:
    workspace_id: strawberry.Private[int]
    name: str = scoped_field("Anyone in the workspace.")
    secret: str | None = scoped_field("Needs billing.", "billing:read:all")
    count: int = scoped_field("Non-null.")
    parts: list[Part] = scoped_field("Plain nested objects.")
    main: Part | None = scoped_field("A plain nested object.")
    tags: list[str] = scoped_field("A plain list of leaves.")
    marks: list[int | None] = scoped_field("A plain list of nullable leaves.")


@strawberry.type
class Shelf:
    index: strawberry.Private[int]

    @strawberry.field
    async def thing(self) -> Thing:
        return all_things()[self.index]


@strawberry.type
class Query:
    @strawberry.field
    async def first(self) -> Thing:
        return all_things()[0]

    @strawberry.field
    def shelf(self, index: int, step: int = 0) -> Shelf | None:
        if index < 0:
            raise ValueError("There is no shelf before the first.")
        return Shelf(index=index + step) if index + step < 2 else None

    @strawberry.field
    def second(self) -> Thing | None:
        return all_things()[1]

    @strawberry.field
    def nothing(self) -> Thing | None:
        return None

    @strawberry.field
    def things(self) -> list[Thing]:
        return all_things()


def all_things() -> list[Thing]:
    def parts(ws: int) -> list[Part]:
        return [Part(workspace_id=ws, label=f"p{ws}{i}", price=i) for i in range(2)]

    return [
        Thing(
            workspace_id=1,
            name="a",
            secret="s1",
            count=1,
            parts=parts(1),
            main=parts(1)[0],
            tags=["x", "y"],
            marks=[1, None],
        ),
        Thing(
            workspace_id=2,
            name="b",
            secret="s2",
            count=None,  # type: ignore[arg-type]
            parts=parts(2),
            main=None,
            tags=[],
            marks=[None],
        ),
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
        assert plan_plain_leaves(schema._schema) == 5
        assert set(schema._schema.extensions[PLANS_KEY]) == {
            ("Thing", "name"),
            ("Thing", "secret"),
            ("Thing", "count"),
            ("Part", "label"),
            ("Part", "price"),
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
        "{ things { __typename name parts { label price } main { label } } }",
        "{ things { name ...F } } fragment F on Thing { parts { label } main { __typename price } }",
        "{ things { name tags marks parts { label } } }",
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


async def test_nested_plain_objects_are_refused_field_by_field() -> None:
    data, errors = await run(
        True, FakeContext(held={1: {None}, 2: {None}}), "{ things { name parts { label price } } }"
    )
    assert data == {
        "things": [
            {
                "name": "a",
                "parts": [{"label": "p10", "price": None}, {"label": "p11", "price": None}],
            },
            {
                "name": "b",
                "parts": [{"label": "p20", "price": None}, {"label": "p21", "price": None}],
            },
        ]
    }
    assert [path for path, _ in errors] == [
        ["things", 0, "parts", 0, "price"],
        ["things", 0, "parts", 1, "price"],
        ["things", 1, "parts", 0, "price"],
        ["things", 1, "parts", 1, "price"],
    ]


async def test_plain_objects_are_completed_by_their_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    original = ObjectPlan.run

    def counted(self: ObjectPlan, allows: Any, source: Any) -> Any:
        runs.append(self.type_name)
        return original(self, allows, source)

    monkeypatch.setattr(ObjectPlan, "run", counted)
    context = FakeContext(held={1: {None, "billing:read:all"}, 2: {None}})
    await run(True, context, "{ things { name parts { label } } }")
    assert runs.count("Thing") == 2  # each Thing once; its parts inside the same pass
    runs.clear()
    data, errors = await run(True, context, "{ things { name tags marks } }")
    assert runs.count("Thing") == 2 and errors == []  # lists of leaves in the same pass
    assert data == {
        "things": [
            {"name": "a", "tags": ["x", "y"], "marks": [1, None]},
            {"name": "b", "tags": [], "marks": [None]},
        ]
    }


async def test_an_object_met_again_in_one_answer_is_completed_once() -> None:
    """A page's members share a few roles and teams: the plan completes each such object
    once per answer, and where it appears again the answer holds the same response."""
    reads: list[str] = []

    class Watched(Part):
        def __getattribute__(self, name: str) -> Any:
            if name == "label":
                reads.append(name)
            return super().__getattribute__(name)

    shared = Watched(workspace_id=1, label="shared", price=7)
    other = Part(workspace_id=1, label="other", price=8)

    @strawberry.type
    class SharingQuery:
        @strawberry.field
        def first(self) -> Thing:
            return Thing(
                workspace_id=1,
                name="a",
                secret="s",
                count=1,
                parts=[shared, other, shared],
                main=shared,
                tags=[],
                marks=[],
            )

    query = "{ first { parts { label price } main { label price } } }"
    context = FakeContext(held={1: {None, "billing:read:all"}})
    answers = []
    for fast in (True, False):
        schema = strawberry.Schema(
            query=SharingQuery,
            execution_context_class=GatewayExecutionContext if fast else None,
        )
        enforce_declarations(schema._schema)
        if fast:
            plan_plain_leaves(schema._schema)
        reads.clear()
        result = await schema.execute(query, context_value=context)
        assert result.errors is None
        answers.append((result.data, len(reads)))
    (fast_data, fast_reads), (core_data, core_reads) = answers
    part = {"label": "shared", "price": 7}
    assert (
        fast_data
        == core_data
        == {"first": {"parts": [part, {"label": "other", "price": 8}, part], "main": part}}
    )
    assert (fast_reads, core_reads) == (1, 3)


async def test_plans_shared_across_requests_keep_each_requests_decisions() -> None:
    from graphql import execute, parse

    schema = build(True)
    document = parse("{ things { name secret parts { label price } } }")
    shared: dict[Any, Any] = {}

    async def as_(context: FakeContext) -> tuple[object, list[object]]:
        result = execute(
            schema._schema,
            document,
            context_value=context,
            executor_class=GatewayExecutionContext,
            plans=shared,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        return result.data, [e.path for e in result.errors or []]

    everything = FakeContext(held={1: {None, "billing:read:all"}, 2: {None, "billing:read:all"}})
    data, errors = await as_(everything)
    assert errors == [] and shared  # the plans were compiled into the shared cache
    assert (
        data
        == (await run(False, everything, "{ things { name secret parts { label price } } }"))[0]
    )
    # The same plans, another viewer: refused where that viewer is refused.
    data, errors = await as_(FakeContext(held={1: {None}, 2: {None}}))
    assert data is not None and data["things"][0]["secret"] is None  # type: ignore[index]
    assert errors == [
        ["things", 0, "secret"],
        ["things", 0, "parts", 0, "price"],
        ["things", 0, "parts", 1, "price"],
        ["things", 1, "secret"],
        ["things", 1, "parts", 0, "price"],
        ["things", 1, "parts", 1, "price"],
    ]


async def test_plans_of_one_shape_share_one_compiled_function() -> None:
    """Compiling a plan costs more than running it many times: a document whose plans
    are made per request (@include) compiles nothing the second time."""
    from graphql import execute, parse

    schema = build(True)
    document = parse("query($p: Boolean!) { things { name parts @include(if: $p) { label } } }")
    context = FakeContext(held={1: {None, "billing:read:all"}, 2: {None}})
    made: list[dict[Any, Any]] = []
    for _ in range(2):
        plans: dict[Any, Any] = {}
        result = execute(
            schema._schema,
            document,
            context_value=context,
            variable_values={"p": True},
            executor_class=GatewayExecutionContext,
            plans=plans,
        )
        if not isinstance(result, ExecutionResult):
            result = await result
        assert result.errors is None
        made.append(plans)
    first, second = ({k[0]: v for k, v in m.items() if v is not None} for m in made)
    assert set(first) == {"Thing", "Part"}
    assert first["Thing"] is not second["Thing"]  # a plan per request…
    assert first["Thing"].compiled is second["Thing"].compiled  # …one function for both


async def _planned(
    query: str, context: FakeContext, variables: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """The root plan of ``query`` after one run through graphql-core (as
    app.edge.operation makes it), and that run's result."""
    from graphql import parse

    document = parse(query)
    plans: dict[Any, Any] = {}
    result = await _core(document, context, variables, plans)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return root_plan(SCHEMA._schema, document, operation, plans), result


SCHEMA = build(True)


async def _core(
    document: Any, context: FakeContext, variables: dict[str, Any] | None, plans: Any = None
) -> ExecutionResult:
    from graphql import execute

    result = execute(
        SCHEMA._schema,
        document,
        context_value=context,
        variable_values=variables,
        executor_class=GatewayExecutionContext,
        plans={} if plans is None else plans,
    )
    if not isinstance(result, ExecutionResult):
        result = await result
    return result


async def test_a_plain_root_is_answered_by_its_plan_as_graphql_core_answers() -> None:
    context = FakeContext(held={1: {None, "billing:read:all"}, 2: {None, "billing:read:all"}})
    for query in (
        "{ first { name secret parts { label price } main { label } } }",
        "{ a: first { name } b: second { __typename name tags marks } }",
        "{ second { name main { label } } }",
    ):
        root, first_run = await _planned(query, context)
        assert root is not None, query
        assert first_run.errors is None
        answered = await run_root(root, context, is_awaitable)
        assert isinstance(answered, CountedResult), query
        assert answered.data == first_run.data, query
        # counted while built: what the cost extension's walk of the answer counts
        assert answered.objects == actual_cost(first_run.data, is_mutation=False), query


async def test_a_plain_root_falls_back_where_graphql_core_would_report_something() -> None:
    allowed = FakeContext(held={1: {None, "billing:read:all"}})
    root, _ = await _planned("{ first { name secret } }", allowed)
    assert root is not None
    # Another viewer, refused the secret: graphql-core reports it; the root path does not try.
    assert await run_root(root, FakeContext(held={1: {None}}), is_awaitable) is FALLBACK
    # A null in a non-null field (the second thing's count): graphql-core reports it.
    root, result = await _planned("{ second { name count } }", FakeContext(held={2: {None}}))
    assert root is not None and result.errors
    assert await run_root(root, FakeContext(held={2: {None}}), is_awaitable) is FALLBACK


async def test_only_a_simple_query_gets_a_root_plan() -> None:
    context = FakeContext(held={1: {None, "billing:read:all"}, 2: {None}})
    for query in (
        "{ things { name } }",  # a list at the root
        "{ nothing { name } }",  # null the first time: no object plan was made
        "{ first { name } things { name } }",  # one root field is not plain
        "{ ... on Query { first { name } } }",  # a fragment at the root
        "{ first @include(if: true) { name } }",  # a directive
        "{ shelf(index: 0) { __typename thing { name } } }",  # a plain field beside a resolver
        "{ shelf(index: 0) { thing { name } } shelf(index: 0) { thing { label: name } } }",
        "{ __typename first { name } }",  # introspection at the root
    ):
        root, _ = await _planned(query, context)
        assert root is None, query


async def test_resolver_fields_down_to_their_plans_are_answered_as_graphql_core_answers() -> None:
    """Arguments, variables (and their defaults), resolvers under resolvers, siblings
    and a null where the field may be null: the root path answers each request of the
    same document as graphql-core answers it."""
    from graphql import parse

    context = FakeContext(held={1: {None, "billing:read:all"}, 2: {None}})
    cases: list[tuple[str, list[dict[str, Any]]]] = [
        (
            "query($i: Int!, $s: Int = 0) { shelf(index: $i, step: $s) { thing { name parts { label } } } }",
            [{"i": 0}, {"i": 1}, {"i": 0, "s": 1}, {"i": 2}],
        ),
        ("{ a: shelf(index: 0) { thing { name } } b: shelf(index: 1) { thing { tags } } }", [{}]),
        ("{ first { name main { label } } shelf(index: 1) { thing { name } } }", [{}]),
    ]
    for query, requests in cases:
        root, first_run = await _planned(query, context, requests[0])
        assert root is not None and first_run.errors is None, query
        for variables in requests:
            expected = await _core(parse(query), context, variables)
            assert expected.errors is None
            answered = await run_root(root, context, is_awaitable, variables)
            assert isinstance(answered, CountedResult), query
            assert answered.data == expected.data, query
            assert answered.objects == actual_cost(expected.data, is_mutation=False), query


async def test_the_root_path_falls_back_where_graphql_core_reports_something() -> None:
    context = FakeContext(held={1: {None}, 2: {None}})
    query = "query($i: Int!) { shelf(index: $i) { thing { name } } }"
    root, _ = await _planned(query, context, {"i": 0})
    assert root is not None
    for variables in (
        {"i": "zero"},  # does not coerce: a request error
        {},  # missing
    ):
        assert await run_root(root, context, is_awaitable, variables) is UNCOERCED, variables
    # A resolver's exception reaches the caller (app.edge.operation falls back on it, or
    # answers the request as a whole when it is the database failing), alone or beside
    # a sibling.
    with pytest.raises(ValueError, match="no shelf before the first"):
        await run_root(root, context, is_awaitable, {"i": -1})
    both = "query($a: Int!, $b: Int!) { a: shelf(index: $a) { thing { name } } b: shelf(index: $b) { thing { name } } }"
    siblings, _ = await _planned(both, context, {"a": 0, "b": 1})
    assert siblings is not None
    with pytest.raises(ValueError, match="no shelf before the first"):
        await run_root(siblings, context, is_awaitable, {"a": 0, "b": -1})
    # A refused check under a resolver (the first thing's secret, without billing).
    root, _ = await _planned(
        "{ shelf(index: 0) { thing { secret } } }",
        FakeContext(held={1: {None, "billing:read:all"}}),
    )
    assert root is not None
    assert await run_root(root, context, is_awaitable) is FALLBACK


async def test_a_fragment_below_a_resolver_is_read_on_every_run(client: GraphQLClient) -> None:
    """A list's resolver looks ahead through the document's fragments to know which
    relations to read (app.graphql.lookahead): under the root path (every run after the
    first) it must see them as under graphql-core. It once saw none: from the
    second run on, conversations' teams came out null and members' teams empty."""
    query = """query { workspace(slug: "acme") {
      conversations(first: 50) { nodes { ...C } } members(first: 50) { ...M } } }
    fragment C on Conversation { title team { name } host { ... on User { name } } }
    fragment M on MemberConnection { nodes { user { ...U } teams { name } } }
    fragment U on User { email }"""
    token = await client.token("ada@acme.test")
    first = await client.query(query, token=token)
    assert "errors" not in first
    assert any(c["team"] for c in first["data"]["workspace"]["conversations"]["nodes"])
    for _ in range(2):
        assert await client.query(query, token=token) == first
    # Nothing below it that may not be null: no fallback would have hidden it.
    teams = """query { workspace(slug: "acme") { members(first: 50) { nodes { ...T } } } }
    fragment T on Member { id teams { name } }"""
    first = await client.query(teams, token=token)
    assert any(m["teams"] for m in first["data"]["workspace"]["members"]["nodes"])
    for _ in range(2):
        assert await client.query(teams, token=token) == first
