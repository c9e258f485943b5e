"""The first slice: who am I, and which workspaces can I switch to."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.client import GraphQLClient

VIEWER = "{ viewer { id email name workspaces { id slug name } } }"


async def test_viewer_with_one_workspace(client: GraphQLClient) -> None:
    body = await client.query(VIEWER, as_="ada@acme.test")
    assert body == {
        "data": {
            "viewer": {
                "id": body["data"]["viewer"]["id"],
                "email": "ada@acme.test",
                "name": "Ada Admin",
                "workspaces": [
                    {
                        "id": body["data"]["viewer"]["workspaces"][0]["id"],
                        "slug": "acme",
                        "name": "Acme Corp",
                    }
                ],
            }
        }
    }


async def test_viewer_in_two_workspaces_lists_both(client: GraphQLClient) -> None:
    body = await client.query(VIEWER, as_="cy@acme.test")
    assert [w["slug"] for w in body["data"]["viewer"]["workspaces"]] == ["acme", "globex"]


async def test_no_token_is_unauthenticated_without_data(client: GraphQLClient) -> None:
    response = await client.post(VIEWER)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "errors": [
            {
                "message": "Authentication required: send Authorization: Bearer <token>.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


async def test_bad_token_is_unauthenticated(client: GraphQLClient) -> None:
    response = await client.post(VIEWER, token="not-a-jwt")
    assert response.status_code == 401
    body = response.json()
    assert body == {
        "errors": [
            {
                "message": "Invalid token: the token is not valid.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }


async def test_account_only_query_reads_one_statement(
    client: GraphQLClient, engine: AsyncEngine
) -> None:
    from sqlalchemy import event

    token = await client.token("ada@acme.test")
    await client.query("{ viewer { id } }", token=token)  # warm up
    # A document's first request signs in fully (its text is parsed only after that);
    # from then on the cached document says it reads nothing but the account.
    await client.query("{ viewer { id name } }", token=token)
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        body = await client.query("{ viewer { id name } }", token=token)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert body["data"]["viewer"]["name"] == "Ada Admin"
    assert len(statements) == 1, statements  # the account; no memberships, no tenant context


async def test_viewer_with_a_workspace_field_still_loads_memberships(client: GraphQLClient) -> None:
    body = await client.query(
        '{ viewer { name } workspace(slug: "acme") { name } }', as_="ada@acme.test"
    )
    assert body == {"data": {"viewer": {"name": "Ada Admin"}, "workspace": {"name": "Acme Corp"}}}


def test_account_only_detection_is_conservative() -> None:
    from app.config import Settings
    from app.edge.operation import Documents

    documents = Documents(Settings())

    def needs(query: str, name: str | None = None) -> bool:
        return documents.prepare(query, name).needs_workspaces

    assert needs("{ viewer { id name email } }") is False
    assert needs("{ __typename viewer { __typename id } }") is False
    assert needs("{ viewer { workspaces { slug } } }") is True
    assert needs("{ viewer { ...F } } fragment F on User { id }") is True
    assert needs('{ workspace(slug: "acme") { id } }') is True
    assert needs('mutation { deleteAccount(input: {confirmation: "x"}) { deleted } }') is True
    assert needs("query A { viewer { id } } query B { workspaces { id } }", "A") is False
    assert needs("query A { viewer { id } } query B { workspaces { id } }", "B") is True
    assert needs("query A { viewer { id } } query B { workspaces { id } }") is True
    assert needs("{ rateLimit { requestedQueryCost } viewer { id } }") is False
    assert needs("{ viewer {") is True  # does not parse: the error is reported after sign-in


@pytest.fixture
def graphql_core_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The documents graphql-core's executor ran (app.edge.operation.execute), in order."""
    from app.edge import operation

    ran: list[object] = []
    execute = operation.execute

    def counted(*args: Any, **kwargs: Any) -> Any:
        ran.append(args[1])
        return execute(*args, **kwargs)

    monkeypatch.setattr(operation, "execute", counted)
    return ran


@pytest.mark.fast_paths_only
async def test_a_repeated_viewer_query_is_answered_by_its_root_plan_alike(
    client: GraphQLClient, graphql_core_runs: list[object]
) -> None:
    """After its first run, ``{ viewer { … } }`` is answered by its root plan
    (app.graphql.runtime.executor.run_root) without graphql-core's executor: the same body
    for each viewer, and graphql-core runs again only for a document's first request."""
    ran = graphql_core_runs
    query = "{ viewer { id email name } }"
    first = {who: await client.query(query, as_=who) for who in ("ada@acme.test", "cy@acme.test")}
    runs = len(ran)
    assert runs <= 2  # the document's first run(s), through graphql-core
    for who, body in first.items():
        assert await client.query(query, as_=who) == body
    assert len(ran) == runs  # none more
    assert first["cy@acme.test"]["data"]["viewer"]["email"] == "cy@acme.test"


@pytest.mark.fast_paths_only
async def test_a_page_is_answered_by_its_root_plan_until_it_falls_back_once(
    client: GraphQLClient, graphql_core_runs: list[object]
) -> None:
    """A page reached through resolvers with arguments (``workspace(slug:)``,
    ``members(first:)``) gets a root plan too. A request it cannot answer once its
    resolvers began (here ``first`` out of range: an error) runs through graphql-core,
    and so does every later request of that document (no page read twice per request);
    variables that do not coerce reach no resolver and leave the plan in place."""
    ran = graphql_core_runs
    query = (
        "query($slug: String!, $n: Int!) { workspace(slug: $slug) "
        "{ members(first: $n) { nodes { id user { name } role { name } } } } }"
    )
    acme = {"slug": "acme", "n": 2}
    first = await client.query(query, acme, as_="ada@acme.test")
    assert len(ran) == 1 and "errors" not in first
    assert await client.query(query, acme, as_="ada@acme.test") == first
    assert len(ran) == 1  # the root plan answered
    # Not a member of acme: a null workspace, no error; the plan answers that too.
    outside = await client.query(query, acme, as_="dee@globex.test")
    assert (outside, len(ran)) == ({"data": {"workspace": None}}, 1)
    uncoerced = await client.query(query, {"slug": 5, "n": 2}, as_="ada@acme.test")
    assert uncoerced["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(ran) == 2
    assert await client.query(query, acme, as_="ada@acme.test") == first
    assert len(ran) == 2  # the plan stays
    out_of_range = await client.query(query, {"slug": "acme", "n": -1}, as_="ada@acme.test")
    assert out_of_range["errors"][0]["extensions"]["argument"] == "first"
    assert len(ran) == 3
    assert await client.query(query, acme, as_="ada@acme.test") == first
    assert len(ran) == 4  # graphql-core again: the plan is gone
