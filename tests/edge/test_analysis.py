"""Static analysis of documents (app/edge/analysis.py): the limits and the cost model,
as docs/limits.md states them. Pure functions: no database."""

from __future__ import annotations

import time
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse

from app.edge.analysis import CostModel, Limits, actual_cost, check_limits, check_variables
from app.edge.errors import Refused
from app.graphql.schema import schema

LIMITS = Limits(
    max_depth=12,
    max_aliases=30,
    max_fields=300,
    max_root_fields=10,
    max_directives=5,
    max_fragments=30,
    max_list_length=100,
)


def refusal(query: str) -> tuple[str, str] | None:
    try:
        check_limits(parse(query), LIMITS)
    except Refused as refused:
        return refused.code, refused.message
    return None


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    document = parse(query)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return CostModel(schema._schema, document, operation, 100).estimate(variables)


MEMBERS_PAGE = (
    "query MembersPage($slug: String!) { workspace(slug: $slug) { members(first: 50) { nodes "
    "{ id user { id name email } role { id name } teams { id name } } } } }"
)
COSTS = [
    # every object 1, scalars 0
    ("{ viewer { id name } }", None, 1),
    ("{ rateLimit { requestedQueryCost throttleStatus { currentlyAvailable } } }", None, 2),
    # workspace 1 + connection 1 + 50 x (member 1 + user 1 + role 1 + teams, a list: once 1)
    (MEMBERS_PAGE, None, 202),
    # edges and their nodes, first times; totalCount is a scalar
    (
        '{ workspace(slug: "a") { members(first: 10) { edges { cursor node { id } } totalCount } } }',
        None,
        22,
    ),
    # no `first`: the maximum page size, 100
    ('{ workspace(slug: "a") { teams { nodes { id name } } } }', None, 102),
    # nested connections multiply
    (
        '{ workspace(slug: "a") { teams(first: 10) { nodes { members(first: 20) { nodes { id } } } } } }',
        None,
        222,
    ),
    # `first` from the variables
    (
        'query($n: Int) { workspace(slug: "a") { members(first: $n) { nodes { id } } } }',
        {"n": 7},
        9,
    ),
    # `last` counts like `first`, from the document or the variables
    ('{ workspace(slug: "a") { members(last: 10) { nodes { id } } } }', None, 12),
    (
        'query($n: Int) { workspace(slug: "a") { members(last: $n, before: "c") { nodes { id } } } }',
        {"n": 7},
        9,
    ),
    # nodes(ids:) once per ID
    ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x"] * 25}, 25),
    ('{ nodes(ids: ["a", "b", "c"]) { id } }', None, 3),
    # a mutation 10, plus what its payload selects
    (
        'mutation { createTeam(input: {workspaceId: "x", name: "y"}) { team { id } userErrors { code } } }',
        None,
        12,
    ),
    # fragments count as if written out
    ("{ viewer { ...F } } fragment F on User { workspaces { id } }", None, 2),
]


@pytest.mark.parametrize(("query", "variables", "expected"), COSTS)
def test_the_cost_model_of_docs_limits(
    query: str, variables: dict[str, Any] | None, expected: int
) -> None:
    assert cost(query, variables) == expected


def test_last_100_costs_what_first_100_costs() -> None:
    page = '{ workspace(slug: "a") { conversations(SIZE: 100) { nodes { id host { name } } } } }'
    forward = cost(page.replace("SIZE", "first"))
    assert forward == 202
    assert cost(page.replace("SIZE", "last")) == forward
    nested = '{ workspace(slug: "a") { teams(SIZE: 100) { nodes { members(SIZE: 3) { nodes { id } } } } } }'
    assert cost(nested.replace("SIZE", "last")) == cost(nested.replace("SIZE", "first")) == 502


def test_an_estimate_that_reads_no_variable_is_kept() -> None:
    document = parse(MEMBERS_PAGE)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    model = CostModel(schema._schema, document, operation, 100)
    assert model.estimate({"slug": "acme"}) == 202
    assert model.fixed == 202
    sized = parse('query($n: Int) { workspace(slug: "a") { members(first: $n) { nodes { id } } } }')
    op = next(d for d in sized.definitions if isinstance(d, OperationDefinitionNode))
    by_variables = CostModel(schema._schema, sized, op, 100)
    assert [by_variables.estimate({"n": n}) for n in (1, 50, 1000)] == [3, 52, 102]
    assert by_variables.fixed is None


def test_actual_cost_counts_the_objects_returned() -> None:
    data = {"workspace": {"members": {"nodes": [{"id": "1", "user": {"id": "2"}}] * 3}}}
    assert actual_cost(data, is_mutation=False) == 1 + 1 + 3 * 2
    payload = {"createTeam": {"team": {"id": "t"}, "userErrors": []}}
    assert actual_cost(payload, is_mutation=True) == 10 + 1
    assert actual_cost(None, is_mutation=False) == 0


def test_documents_within_every_limit_pass() -> None:
    aliases = " ".join(f"a{i}: viewer {{ id }}" for i in range(10))
    assert refusal("{ " + aliases + " }") is None
    assert refusal(MEMBERS_PAGE) is None


LIMIT_CASES = [
    (
        "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }",
        (
            "TOO_MANY_ALIASES",
            "The document has too many aliases: the limit is 30, it has at least 31.",
        ),
    ),
    (
        "{ viewer { " + "id " * 301 + "} }",
        (
            "TOO_MANY_FIELDS",
            "The document selects too many fields (fragments expanded): the limit is 300, it has at least 301.",
        ),
    ),
    (
        "{ " + " ".join(f"f{i}: viewer {{ id }}" for i in range(11)).replace("f10: ", "") + " }",
        (
            "TOO_MANY_ROOT_FIELDS",
            "The document selects too many root fields in one operation: the limit is 10, it has 11.",
        ),
    ),
    (
        "{ viewer { id" + " @include(if: true)" * 6 + " } }",
        (
            "TOO_MANY_DIRECTIVES",
            "The document has too many directives in one place: the limit is 5, it has 6.",
        ),
    ),
    (
        "{ viewer { ...F0 } } " + " ".join(f"fragment F{i} on User {{ id }}" for i in range(31)),
        (
            "TOO_MANY_FRAGMENTS",
            "The document defines too many fragments: the limit is 30, it has 31.",
        ),
    ),
    (
        "{ nodes(ids: [" + ", ".join(['"x"'] * 101) + "]) { id } }",
        (
            "LIST_TOO_LONG",
            "The document has a list argument that is too long: the limit is 100, it has 101.",
        ),
    ),
    (
        "{ viewer " + "{ workspaces " * 12 + "{ id }" + " }" * 13,
        ("TOO_DEEP", "The document nests fields too deeply: the limit is 12, it has 13."),
    ),
]


@pytest.mark.parametrize(("query", "expected"), LIMIT_CASES)
def test_each_limit_refuses_with_its_code_naming_the_limit_and_the_value(
    query: str, expected: tuple[str, str]
) -> None:
    assert refusal(query) == expected


def test_depth_counts_through_fragments() -> None:
    inner = "{ workspaces " * 8 + "{ id }" + " }" * 8  # user is at depth 5
    query = (
        "{ viewer { workspaces { ...A } } } fragment A on Workspace { members { nodes { user "
        + inner
        + " } } }"
    )
    assert refusal(query) == (
        "TOO_DEEP",
        "The document nests fields too deeply: the limit is 12, it has 13.",
    )


def test_a_fragment_bomb_is_measured_in_linear_time() -> None:
    # F30 expands to 2**30 fields; each fragment is measured once.
    chain = "fragment F0 on User { id name } " + " ".join(
        f"fragment F{i} on User {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 30)
    )
    started = time.perf_counter()
    found = refusal("{ viewer { ...F29 } } " + chain)
    assert found is not None and found[0] == "TOO_MANY_FIELDS"
    assert time.perf_counter() - started < 1  # 2**30 visits would take hours


def test_a_fragment_cycle_is_left_to_validation() -> None:
    query = "{ viewer { ...A } } fragment A on User { id ...B } fragment B on User { ...A }"
    assert refusal(query) is None  # validation refuses it with NoFragmentCycles
    assert cost(query) == 1


def test_lists_in_variables_obey_the_same_length() -> None:
    check_variables({"ids": ["x"] * 100, "input": {"teamIds": ["t"] * 100}}, 100)
    with pytest.raises(Refused) as refused:
        check_variables({"input": {"teamIds": ["t"] * 101}}, 100)
    assert (refused.value.code, refused.value.message) == (
        "LIST_TOO_LONG",
        "A list in the variables is too long: the limit is 100, it has 101.",
    )
