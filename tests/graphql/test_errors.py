"""Request-level errors: every unexpected exception is masked to INTERNAL_SERVER_ERROR
(no stack, SQL or driver names) and logged with the request id; malformed requests are
BAD_USER_INPUT; mutations are refused over GET."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.members import repository as members_repository
from app.domain.nodes import repository as nodes_repository
from app.domain.workspaces import repository as workspaces_repository
from app.graphql.ids import encode_id
from app.graphql.schema import schema
from app.models import User, UserStatus
from tests import factories as f
from tests.client import GraphQLClient, without_cost

ADA = "ada@acme.test"
LEAKS = ("secret", "SELECT", "asyncpg", "sqlite", "Traceback", "RuntimeError", "sqlalchemy")


async def boom(*_: Any, **__: Any) -> Any:
    raise RuntimeError("SELECT secret FROM asyncpg.pg_shadow -- sqlalchemy.exc")


async def post(client: GraphQLClient, query: str, request_id: str) -> tuple[Any, str]:
    token = await client.token(ADA)
    response = await client.http.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {token}", "X-Request-Id": request_id},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    return without_cost(response.json()), response.text


def assert_no_leak(raw: str) -> None:
    for word in LEAKS:
        assert word.lower() not in raw.lower(), word


async def test_unexpected_exception_is_masked_and_logged_with_the_request_id(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(workspaces_repository, "subscription", boom)
    with caplog.at_level(logging.ERROR, logger="app.graphql"):
        body, raw = await post(
            client, '{ workspace(slug: "acme") { name subscription { plan } } }', "req-boom-1"
        )

    assert body["data"] == {"workspace": {"name": "Acme Corp", "subscription": None}}
    assert [(e["message"], e["path"]) for e in body["errors"]] == [
        ("Internal server error.", ["workspace", "subscription"])
    ]
    assert set(body["errors"][0]) == {"message", "locations", "path", "extensions"}
    assert_no_leak(raw)
    logged = [r for r in caplog.records if "req-boom-1" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None
    assert "SELECT secret" in str(logged[0].exc_info[1])  # the log keeps what the client lost


async def test_masked_error_has_code_internal_server_error(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspaces_repository, "subscription", boom)
    body, _ = await post(client, '{ workspace(slug: "acme") { subscription { plan } } }', "r2")
    assert [e["extensions"] for e in body["errors"]] == [{"code": "INTERNAL_SERVER_ERROR"}]


async def test_exception_in_a_root_resolver_is_masked(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # workspace(slug:) is answered from the viewer's memberships; node(id:) queries.
    monkeypatch.setattr(nodes_repository, "rows_among", boom)
    member = encode_id("Member", 1)
    body, raw = await post(client, '{ node(id: "' + member + '") { id } }', "req-boom-2")
    assert body["data"] == {"node": None}
    assert [e["message"] for e in body["errors"]] == ["Internal server error."]
    assert_no_leak(raw)


async def test_exception_in_a_loader_batch_is_masked_everywhere_it_lands(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(members_repository, "members_pages_of_teams", boom)
    body, raw = await post(
        client,
        '{ workspace(slug: "acme") { name teams { nodes { name members { nodes { id } } } } } }',
        "r3",
    )
    # One batch for every team's members: its failure nulls each (nullable) connection.
    teams = [{"name": "Sales", "members": None}, {"name": "Support", "members": None}]
    assert body["data"] == {"workspace": {"name": "Acme Corp", "teams": {"nodes": teams}}}
    assert [e["path"] for e in body["errors"]] == [
        ["workspace", "teams", "nodes", i, "members"] for i in range(2)
    ]
    assert {e["message"] for e in body["errors"]} == {"Internal server error."}
    assert_no_leak(raw)


async def test_database_error_is_masked(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_sql(session: AsyncSession, workspace_id: int) -> Any:
        await session.execute(text("SELECT secret FROM no_such_table"))

    monkeypatch.setattr(workspaces_repository, "integrations", broken_sql)
    body, raw = await post(
        client, '{ workspace(slug: "acme") { integrations { provider } } }', "r4"
    )
    assert body["data"] == {"workspace": {"integrations": None}}
    assert [e["message"] for e in body["errors"]] == ["Internal server error."]
    assert_no_leak(raw)
    assert "no_such_table" not in raw


async def test_the_failed_request_changes_nothing_and_the_next_one_works(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(workspaces_repository, "subscription", boom)
        await post(client, '{ workspace(slug: "acme") { subscription { plan } } }', "r5")
    body, _ = await post(client, '{ workspace(slug: "acme") { subscription { plan } } }', "r6")
    assert body == {"data": {"workspace": {"subscription": {"plan": "BUSINESS"}}}}


# --- malformed requests -----------------------------------------------------------------


MALFORMED_REQUESTS: list[tuple[str, dict[str, Any] | None, str | None]] = [
    ('{ workspace(slug: "acme") { name }', None, "Syntax Error: Expected Name, found <EOF>."),
    (
        "{ nope }",
        None,
        "Cannot query field 'nope' on type 'Query'. Did you mean 'node' or 'nodes'?",
    ),
    (
        '{ workspace(slug: "acme") { members(first: "ten") { totalCount } } }',
        None,
        'Int cannot represent non-integer value: "ten"',
    ),
    ("{ workspace { name } }", None, None),  # a required argument missing
]


async def test_malformed_request_is_bad_user_input_without_data(client: GraphQLClient) -> None:
    token = await client.token(ADA)
    for query, variables, message in MALFORMED_REQUESTS:
        body = without_cost((await client.post(query, variables, token=token)).json())
        assert "data" not in body, query  # a request error: nothing executed
        assert [e["extensions"] for e in body["errors"]] == [{"code": "BAD_USER_INPUT"}], query
        if message is not None:
            assert body["errors"][0]["message"] == message


async def test_a_variable_of_the_wrong_type_is_bad_user_input(client: GraphQLClient) -> None:
    body = await client.query(
        "query($n: Int) { workspaces { members(first: $n) { totalCount } } }", {"n": "x"}, as_=ADA
    )
    assert body == {
        "errors": [
            {
                "message": "Variable '$n' has invalid value: Int cannot represent non-integer "
                "value: 'x'",
                "locations": [{"line": 1, "column": 7}],
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ],
    }


MALFORMED_BODIES = [
    (b"not json", "The request body is not valid JSON."),
    (b"[]", "The request body must be a JSON object."),
    (b'{"query": ""}', "`query` must be a non-empty string."),
    (b'{"query": "{ viewer { id } }", "variables": []}', "`variables` must be a JSON object."),
]


async def test_malformed_body_is_bad_user_input(client: GraphQLClient) -> None:
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {await client.token(ADA)}",
    }
    for content, message in MALFORMED_BODIES:
        response = await client.http.post("/graphql", content=content, headers=headers)
        assert response.status_code == 400, content
        assert without_cost(response.json()) == {
            "errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]
        }


async def test_queries_are_accepted_over_get(client: GraphQLClient) -> None:
    response = await client.http.get(
        "/graphql",
        params={"query": '{ workspace(slug: "acme") { name } }'},
        headers={"Authorization": f"Bearer {await client.token(ADA)}"},
    )
    assert response.status_code == 200
    assert without_cost(response.json()) == {"data": {"workspace": {"name": "Acme Corp"}}}


async def test_mutations_are_refused_over_get(client: GraphQLClient, session: AsyncSession) -> None:
    if schema._schema.mutation_type is None:  # type: ignore[attr-defined]
        pytest.skip("the schema has no Mutation type yet")
    response = await client.http.get(
        "/graphql",
        params={
            "query": 'mutation { deleteAccount(input: {confirmation: "DELETE"}) { __typename } }'
        },
        headers={"Authorization": f"Bearer {await client.token('ben@acme.test')}"},
    )
    assert response.status_code == 405
    assert without_cost(response.json()) == {
        "errors": [
            {
                "message": "Mutations are only accepted over POST.",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }
    ben = await session.get(User, await f.user_id(session, "ben@acme.test"))
    assert ben is not None and ben.status == UserStatus.ACTIVE  # nothing happened


async def test_several_operations_without_operation_name_are_refused(client: GraphQLClient) -> None:
    body = await client.query(
        "query A { viewer { id } } query B { viewer { name } }", as_="ada@acme.test"
    )
    assert body == {
        "errors": [
            {
                "message": "The document has several operations: say which one to run in `operationName`.",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }


async def test_an_unknown_operation_name_is_bad_user_input(client: GraphQLClient) -> None:
    token = await client.token("ada@acme.test")
    response = await client.http.post(
        "/graphql",
        json={"query": "query A { viewer { id } }", "operationName": "Nope"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert without_cost(response.json()) == {
        "errors": [
            {"message": 'Unknown operation named "Nope".', "extensions": {"code": "BAD_USER_INPUT"}}
        ]
    }


async def test_a_document_without_an_operation_is_bad_user_input(client: GraphQLClient) -> None:
    body = without_cost(
        (await client.post("fragment F on User { id }", None, token=await client.token(ADA))).json()
    )
    assert body == {
        "errors": [
            {
                "message": "The document has no operation to run.",
                "extensions": {"code": "BAD_USER_INPUT"},
            }
        ]
    }


async def test_a_query_nested_too_deep_is_refused_before_any_resolver(
    client: GraphQLClient,
) -> None:
    deep = "{ viewer { workspaces { members { nodes { user { workspaces { members { nodes { user { workspaces { members { nodes { user { workspaces { id } } } } } } } } } } } } } } }"
    body = (await client.post(deep, None, token=await client.token(ADA))).json()
    assert body == {
        "errors": [
            {
                "message": "The document nests fields too deeply: the limit is 12, it has 13.",
                "extensions": {"code": "TOO_DEEP"},
            }
        ]
    }


async def test_a_document_of_too_many_tokens_is_refused(client: GraphQLClient) -> None:
    huge = "{ viewer { " + "id " * 6000 + "} }"
    body = (await client.post(huge, None, token=await client.token(ADA))).json()
    assert body == {
        "errors": [
            {
                "message": "The document has too many tokens: the limit is 2000.",
                "extensions": {"code": "TOO_MANY_TOKENS"},
            }
        ]
    }
