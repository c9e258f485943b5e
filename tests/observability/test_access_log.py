"""The access line: one JSON line per GraphQL request with who asked what and how it
went, and the request id on every line logged while a request runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.client import GraphQLClient
from tests.edge.asgi_edge import recorded
from tests.factories import create_api_key, user_id, workspace_id
from tests.graphql.mutations.helpers import workspace_id as workspace_gid
from tests.observability.conftest import Lines, Serve, access_lines

ACME_NAME = 'query AcmeName { workspace(slug: "acme") { name } }'


def line(**fields: Any) -> dict[str, Any]:
    """An access line as logged, without its timestamp and duration."""
    return {
        "event": "graphql request",
        "level": "info",
        "logger": "app.access",
        "operation": None,
        "principal": "anonymous",
        "principal_id": None,
        "workspace": None,
        "status": 200,
        "errors": [],
        "cost_requested": None,
        "cost_actual": None,
        "statements": 0,
        **fields,
    }


async def test_a_query_logs_its_operation_principal_workspace_cost_and_statements(
    client: GraphQLClient, log_lines: Lines, engine: AsyncEngine, owner_engine: AsyncEngine
) -> None:
    token = await client.token("ada@acme.test")
    with recorded(engine) as statements:
        response = await client.http.post(
            "/graphql",
            json={"query": ACME_NAME},
            headers={"Authorization": f"Bearer {token}", "X-Request-Id": "req-acme-1"},
        )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-acme-1"
    async with _session(owner_engine) as session:
        ada, acme = await user_id(session, "ada@acme.test"), await workspace_id(session, "acme")
    assert access_lines(log_lines()) == [
        line(
            request_id="req-acme-1",
            operation="AcmeName",
            principal="user",
            principal_id=ada,
            workspace=acme,
            cost_requested=1,
            cost_actual=1,
            statements=len(statements),
        )
    ]
    assert len(statements) >= 1


async def test_a_mutation_by_an_api_key_logs_the_key_and_its_workspace(
    client: GraphQLClient, log_lines: Lines, owner_engine: AsyncEngine
) -> None:
    async with _session(owner_engine) as session:
        ada, acme = await user_id(session, "ada@acme.test"), await workspace_id(session, "acme")
        secret = await create_api_key(session, acme, ada, ["teams:create:all"], name="CI")
        await session.commit()
        key_id = await _one(session, "SELECT id FROM api_keys WHERE name = 'CI'")
    response = await client.http.post(
        "/graphql",
        json={
            "query": "mutation NewTeam($input: CreateTeamInput!) { createTeam(input: $input) { team { name } userErrors { code } } }",
            "variables": {
                "input": {"workspaceId": await workspace_gid(owner_engine, "acme"), "name": "Ops"}
            },
        },
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.json()["data"] == {"createTeam": {"team": {"name": "Ops"}, "userErrors": []}}
    [logged] = access_lines(log_lines())
    assert logged == line(
        request_id=response.headers["x-request-id"],
        operation="NewTeam",
        principal="api_key",
        principal_id=key_id,
        workspace=acme,
        cost_requested=logged["cost_requested"],
        cost_actual=logged["cost_actual"],
        statements=logged["statements"],
    )
    assert logged["cost_requested"] >= 1 and logged["statements"] >= 2


async def test_a_request_without_credentials_logs_a_401_and_its_code(
    client: GraphQLClient, log_lines: Lines
) -> None:
    response = await client.http.post("/graphql", json={"query": ACME_NAME})
    assert response.status_code == 401
    assert access_lines(log_lines()) == [
        line(
            request_id=response.headers["x-request-id"],
            status=401,
            errors=["UNAUTHENTICATED"],
        )
    ]


async def test_a_rate_limited_request_logs_a_429_with_its_cost(
    serve: Serve, log_lines: Lines, owner_engine: AsyncEngine, settings: Settings
) -> None:
    async with serve(
        rate_limit_points=3, max_query_cost=3, rate_limit_restore_per_second=0.001
    ) as client:
        token = await client.token("ada@acme.test")
        statuses = [(await client.post(ACME_NAME, token=token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    async with _session(owner_engine) as session:
        ada = await user_id(session, "ada@acme.test")
    refused = access_lines(log_lines())[-1]
    assert refused == line(
        request_id=refused["request_id"],
        operation="AcmeName",
        principal="user",
        principal_id=ada,
        status=429,
        errors=["RATE_LIMITED"],
        cost_requested=1,
        statements=refused["statements"],
    )


async def test_a_failing_field_and_an_invalid_document_log_their_codes(
    client: GraphQLClient, log_lines: Lines, owner_engine: AsyncEngine
) -> None:
    token = await client.token("ada@acme.test")
    failing = await client.post('query Lookup { node(id: "nonsense") { id } }', token=token)
    invalid = await client.post("query Bad { workspace { nosuchfield } }", token=token)
    assert failing.json()["data"] == {"node": None}
    assert [e["extensions"]["code"] for e in failing.json()["errors"]] == ["BAD_USER_INPUT"]
    async with _session(owner_engine) as session:
        ada = await user_id(session, "ada@acme.test")
    first, second = access_lines(log_lines())
    assert first == line(
        request_id=failing.headers["x-request-id"],
        operation="Lookup",
        principal="user",
        principal_id=ada,
        errors=["BAD_USER_INPUT"],
        cost_requested=1,
        cost_actual=0,
        statements=first["statements"],
    )
    assert second == line(  # two validation errors, one code
        request_id=invalid.headers["x-request-id"],
        operation="Bad",
        principal="user",
        principal_id=ada,
        status=invalid.status_code,
        errors=["BAD_USER_INPUT"],
        cost_requested=1,
        statements=second["statements"],
    )


async def test_every_line_of_a_request_carries_its_request_id(
    serve: Serve, log_lines: Lines
) -> None:
    # A deadline no request meets: the gateway logs the timeout, then the access line.
    async with serve(request_timeout_seconds=0.000_001) as client:
        token = await client.token("ada@acme.test")
        response = await client.http.post(
            "/graphql",
            json={"query": ACME_NAME},
            headers={"Authorization": f"Bearer {token}", "X-Request-Id": "slow-1"},
        )
    assert response.status_code == 504
    during = [entry for entry in log_lines() if entry.get("request_id") == "slow-1"]
    assert [(e["logger"], e["level"]) for e in during] == [
        ("app.http", "warning"),
        ("app.access", "info"),
    ]
    assert during[0]["event"] == "request slow-1 passed its deadline"
    assert during[1]["errors"] == ["TIMEOUT"] and during[1]["status"] == 504
    # Nothing logged outside a request carries an id.
    assert all("request_id" not in e for e in log_lines() if e not in during)


async def test_browsers_may_read_the_request_id(serve: Serve) -> None:
    async with serve(cors_origins=["https://app.example"]) as client:
        response = await client.http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://app.example"}
        )
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


def _session(engine: AsyncEngine) -> Any:
    from app.db.engine import create_sessionmaker

    return create_sessionmaker(engine)()


async def _one(session: Any, sql: str) -> Any:
    from sqlalchemy import text

    return (await session.execute(text(sql))).scalar_one()


def test_uvicorn_writes_no_access_line_of_its_own() -> None:
    """uvicorn logs an access line whenever ``uvicorn.access`` has a handler (the root's
    counts); the gateway's own line replaces it, so after configuring it has none."""
    import io
    import logging

    import structlog

    from app.observability.logs import configure_logging, unconfigure_access

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(Settings(app_env="production", jwt_secret="s" * 32), io.StringIO())
        assert not logging.getLogger("uvicorn.access").hasHandlers()
        assert logging.getLogger("uvicorn.error").hasHandlers()
    finally:
        root.handlers, _ = saved
        root.setLevel(saved[1])
        structlog.reset_defaults()
        unconfigure_access()
