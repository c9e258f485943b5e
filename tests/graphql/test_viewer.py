"""The first slice: who am I, and which workspaces can I switch to."""

from __future__ import annotations

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
