"""GraphQL over HTTP through the ASGI app, on both engines: the response media type
chosen by ``Accept`` (406 when neither is acceptable), request errors as HTTP 200 under
``application/json`` and 400 without ``data`` under ``application/graphql-response+json``,
the edge's own refusals with their statuses under both, JSON in UTF-8 as the only
request body (415 otherwise), and GET for queries only (405 for mutations, and for HEAD)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.edge import pipeline
from app.edge.operation import MASKED_MESSAGE
from tests import factories as f
from tests.edge.asgi_edge import ADA, Edge, Serve, apq, error, sha256
from tests.edge.http.test_limits import create_team, team_names

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
BOTH = (JSON, GRAPHQL_RESPONSE)
TYPENAME = "{ __typename }"
NOT_ACCEPTABLE = error(
    "NOT_ACCEPTABLE",
    "This endpoint answers application/graphql-response+json or application/json (UTF-8): "
    "accept one of them.",
)
NOT_JSON = error("UNSUPPORTED_MEDIA_TYPE", "Send the request as Content-Type: application/json.")
NOT_UTF_8 = error(
    "UNSUPPORTED_MEDIA_TYPE",
    "Send the request body in UTF-8 (Content-Type: application/json; charset=utf-8).",
)


def cost(requested: int, available: int, actual: int | None = 0) -> dict[str, Any]:
    """``extensions.cost`` under the frozen bucket (1,000 points, nothing restored)."""
    status = {"maximumAvailable": 1000, "currentlyAvailable": available, "restoreRate": 0.001}
    actual_cost = {} if actual is None else {"actualQueryCost": actual}
    return {"requestedQueryCost": requested, **actual_cost, "throttleStatus": status}


def answer(response: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    return response.status_code, response.headers["content-type"], response.json()


def utf8(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


@pytest.fixture
async def frozen(serve: Serve) -> AsyncIterator[Edge]:
    """Production limits and a bucket that refills nothing during the test."""
    async with serve(rate_limit_restore_per_second=0.001) as started:
        yield started


# --- the response media type ------------------------------------------------------------


async def test_accept_chooses_the_response_media_type(frozen: Edge) -> None:
    token = await frozen.token(ADA)
    chosen = [
        (None, JSON),  # what legacy clients expect
        ("", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("*/*", JSON),
        ("application/*", JSON),
        ("text/html, */*;q=0.8", JSON),  # a browser
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};charset=utf-8, {JSON};charset=utf-8", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),  # a tie: the preferred type
        (f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON),
        (f"{JSON};q=0.5, */*;q=0.5", JSON),  # named beats a wildcard of the same q
        (f"*/*, {JSON};q=0", GRAPHQL_RESPONSE),  # the most specific range decides
        (f'{GRAPHQL_RESPONSE}; charset="UTF-8"', GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};charset=latin1, {JSON}", JSON),
        ("APPLICATION/GRAPHQL-RESPONSE+JSON", GRAPHQL_RESPONSE),
    ]
    for number, (accept, media_type) in enumerate(chosen, start=1):
        headers = {"Authorization": f"Bearer {token}"}
        if accept is not None:
            headers["Accept"] = accept
        response = await frozen.http.post("/graphql", json={"query": TYPENAME}, headers=headers)
        assert answer(response) == (
            200,
            utf8(media_type),
            {"data": {"__typename": "Query"}, "extensions": {"cost": cost(1, 1000 - number)}},
        ), accept
        assert response.headers["vary"] == "Accept"


async def test_an_accept_that_allows_neither_type_is_406_before_credentials(edge: Edge) -> None:
    token = await edge.token(ADA)
    refused = [
        "text/html",
        "application/xml, text/*",
        f"{JSON}; charset=iso-8859-1",
        f"{GRAPHQL_RESPONSE};q=0, {JSON};q=0",
        "*/*;q=0",
        f"{JSON};q=2",  # not a q-value
        "json",
    ]
    for accept in refused:
        for auth in ({}, {"Authorization": f"Bearer {token}"}):
            response = await edge.http.post(
                "/graphql", json={"query": TYPENAME}, headers={"Accept": accept, **auth}
            )
            assert answer(response) == (406, utf8(JSON), NOT_ACCEPTABLE), accept
    assert len(edge.gateway.documents) == 0


async def test_graphiql_is_still_served_to_a_browser_without_a_query(serve: Serve) -> None:
    async with serve(app_env="development") as edge:
        page = await edge.http.get("/graphql", headers={"Accept": "text/html"})
        assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
        with_query = await edge.http.get(
            "/graphql", params={"query": TYPENAME}, headers={"Accept": "text/html"}
        )
        assert answer(with_query) == (406, utf8(JSON), NOT_ACCEPTABLE)


# --- request errors and field errors ----------------------------------------------------


async def test_request_errors_are_200_under_json_and_400_without_data_under_graphql_response(
    serve: Serve,
) -> None:
    syntax = {
        "message": "Syntax Error: Expected Name, found <EOF>.",
        "locations": [{"line": 1, "column": 2}],
        "extensions": {"code": "BAD_USER_INPUT"},
    }
    unknown_field = {
        "message": "Cannot query field 'nope' on type 'Query'. Did you mean 'node' or 'nodes'?",
        "locations": [{"line": 1, "column": 3}],
        "extensions": {"code": "BAD_USER_INPUT"},
    }
    coercion = {
        "message": "Variable '$id' has invalid value: Expected value of non-null type 'ID!' "
        "not to be None.",
        "locations": [{"line": 1, "column": 7}],
        "extensions": {"code": "BAD_USER_INPUT"},
    }
    cases: list[tuple[dict[str, Any], dict[str, Any]]] = [
        ({"query": "{"}, {"errors": [syntax]}),  # parse: 50 points
        (
            {"query": "{ nope }"},
            {"errors": [unknown_field], "extensions": {"cost": cost(1, 949, None)}},
        ),
        (
            {"query": "query A { __typename }", "operationName": "B"},  # 50 points
            error("BAD_USER_INPUT", 'Unknown operation named "B".'),
        ),
        (
            {"query": "query A { __typename } query B { __typename }"},  # 50 points
            error(
                "BAD_USER_INPUT",
                "The document has several operations: say which one to run in `operationName`.",
            ),
        ),
        (
            {"query": "query($id: ID!) { node(id: $id) { id } }", "variables": {"id": None}},
            {"errors": [coercion], "extensions": {"cost": cost(1, 848)}},
        ),
        (
            {"extensions": apq(sha256("{ unknown }"))},  # the client sends the text next
            error("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"),
        ),
    ]
    for media_type, status in ((JSON, 200), (GRAPHQL_RESPONSE, 400)):
        # a fresh bucket per media type
        async with serve(rate_limit_restore_per_second=0.001) as edge:
            headers = {"Authorization": f"Bearer {await edge.token(ADA)}", "Accept": media_type}
            for body, expected in cases:
                response = await edge.http.post("/graphql", json=body, headers=headers)
                assert answer(response) == (status, utf8(media_type), expected), body


async def test_a_field_error_is_200_with_data_under_both_types(frozen: Edge) -> None:
    token = await frozen.token(ADA)
    for number, media_type in enumerate(BOTH, start=1):
        response = await frozen.http.post(
            "/graphql",
            json={"query": '{ node(id: "abc") { id } }'},
            headers={"Authorization": f"Bearer {token}", "Accept": media_type},
        )
        assert answer(response) == (
            200,
            utf8(media_type),
            {
                "errors": [
                    {
                        "message": "'abc' is not a valid ID.",
                        "locations": [{"line": 1, "column": 3}],
                        "path": ["node"],
                        "extensions": {"code": "BAD_USER_INPUT"},
                    }
                ],
                "data": {"node": None},
                "extensions": {"cost": cost(1, 1000 - number)},
            },
        )


async def test_malformed_requests_are_400_under_both_types(edge: Edge) -> None:
    token = await edge.token(ADA)
    malformed = [
        (b"", "The request body is not valid JSON."),
        (b'{ "not a JSON', "The request body is not valid JSON."),
        (b'["query"]', "The request body must be a JSON object."),
        (b'{"qeury": "{ __typename }"}', "`query` must be a non-empty string."),
        (b'{"query": 1}', "`query` must be a string."),
        (b'{"query": "{ __typename }", "variables": [7]}', "`variables` must be a JSON object."),
        (b'{"query": "{ __typename }", "operationName": 0}', "`operationName` must be a string."),
        (b'{"query": "{ __typename }", "extensions": "x"}', "`extensions` must be a JSON object."),
    ]
    for media_type in BOTH:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": JSON,
            "Accept": media_type,
        }
        for content, message in malformed:
            response = await edge.http.post("/graphql", content=content, headers=headers)
            assert answer(response) == (
                400,
                utf8(media_type),
                error("BAD_USER_INPUT", message),
            ), content


async def test_null_parameters_and_an_empty_operation_name_are_absent(frozen: Edge) -> None:
    token = await frozen.token(ADA)
    sent = [
        {"query": TYPENAME, "variables": None, "operationName": None, "extensions": None},
        {"query": TYPENAME, "operationName": ""},
    ]
    for number, body in enumerate(sent, start=1):
        response = await frozen.http.post(
            "/graphql",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
        )
        assert answer(response) == (
            200,
            utf8(GRAPHQL_RESPONSE),
            {"data": {"__typename": "Query"}, "extensions": {"cost": cost(1, 1000 - number)}},
        )


# --- the edge's own refusals keep their statuses ----------------------------------------


async def test_refusals_before_the_body_keep_their_status_under_both_types(edge: Edge) -> None:
    token = await edge.token(ADA)
    for media_type in BOTH:
        anonymous = await edge.http.post(
            "/graphql", json={"query": TYPENAME}, headers={"Accept": media_type}
        )
        assert answer(anonymous) == (
            401,
            utf8(media_type),
            error(
                "UNAUTHENTICATED", "Authentication required: send Authorization: Bearer <token>."
            ),
        )
        assert anonymous.headers["www-authenticate"] == "Bearer"

        too_large = await edge.http.post(
            "/graphql",
            content=b"{}",
            headers={"Content-Type": JSON, "Content-Length": "1000001", "Accept": media_type},
        )
        assert answer(too_large) == (
            413,
            utf8(media_type),
            error(
                "PAYLOAD_TOO_LARGE", "The request body is too large: the limit is 1000000 bytes."
            ),
        )

        form = await edge.http.post(
            "/graphql",
            data={"query": TYPENAME},
            headers={"Authorization": f"Bearer {token}", "Accept": media_type},
        )
        assert answer(form) == (415, utf8(media_type), NOT_JSON)


@pytest.mark.slow  # a second of waiting, hardly any CPU: best beside others' work
async def test_a_rate_limited_request_is_429_under_both_types(serve: Serve) -> None:
    async with serve(
        rate_limit_points=1, max_query_cost=1, rate_limit_restore_per_second=0.001
    ) as edge:
        token = await edge.token(ADA)
        assert (await edge.post(TYPENAME, token=token)).status_code == 200  # the only point
        for media_type in BOTH:
            response = await edge.http.post(
                "/graphql",
                json={"query": TYPENAME},
                headers={"Authorization": f"Bearer {token}", "Accept": media_type},
            )
            assert response.status_code == 429
            assert response.headers["content-type"] == utf8(media_type)
            assert int(response.headers["retry-after"]) > 0
            assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["RATE_LIMITED"]
            assert "data" not in response.json()


async def test_load_shedding_and_the_deadline_keep_503_and_504_under_both_types(
    serve: Serve,
) -> None:
    async with serve(max_in_flight=1, max_queued=1, request_timeout_seconds=0.3) as edge:
        token = await edge.token(ADA)
        async with edge.gateway.admission:  # the only slot, held
            for media_type in BOTH:
                headers = {"Authorization": f"Bearer {token}", "Accept": media_type}
                queued = asyncio.create_task(
                    edge.http.post("/graphql", json={"query": TYPENAME}, headers=headers)
                )
                for _ in range(1_000):  # until it waits in the queue
                    if edge.gateway.admission.waiting:
                        break
                    await asyncio.sleep(0.001)
                shed = await edge.http.post("/graphql", json={"query": TYPENAME}, headers=headers)
                assert answer(shed) == (
                    503,
                    utf8(media_type),
                    error("SERVICE_UNAVAILABLE", "The server is at capacity: retry shortly."),
                )
                assert shed.headers["retry-after"] == "1"
                assert answer(await queued) == (
                    504,
                    utf8(media_type),
                    error(
                        "TIMEOUT",
                        "The request did not finish within 0.3 seconds: "
                        "its unfinished work was rolled back.",
                    ),
                )


# --- what a request may be --------------------------------------------------------------


async def test_posts_that_are_not_json_in_utf8_are_415_and_change_nothing(
    edge: Edge, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    acme = await f.gid(session, "Workspace", "acme")
    token = await edge.token(ADA)
    before = await team_names(owner_engine)
    body = httpx.Request("POST", "/", json={"query": create_team(acme, "Refused")}).content
    refused = [
        (None, NOT_JSON),
        ("text/plain", NOT_JSON),
        ("application/x-www-form-urlencoded", NOT_JSON),
        ("multipart/form-data; boundary=x", NOT_JSON),
        ("application/graphql", NOT_JSON),
        ("application/jsonx", NOT_JSON),
        (f"{JSON}; charset=latin1", NOT_UTF_8),
        (f"{JSON}; charset=utf-16", NOT_UTF_8),
    ]
    for content_type, expected in refused:
        headers = {"Authorization": f"Bearer {token}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = await edge.http.post("/graphql", content=body, headers=headers)
        assert answer(response) == (415, utf8(JSON), expected), content_type
    assert await team_names(owner_engine) == before
    assert len(edge.gateway.documents) == 0


async def test_json_in_utf8_is_accepted_however_its_type_is_spelled(frozen: Edge) -> None:
    token = await frozen.token(ADA)
    spellings = [
        JSON,
        f"{JSON}; charset=utf-8",
        f'{JSON};charset="UTF-8"',
        "Application/JSON",
        GRAPHQL_RESPONSE,
    ]
    for number, content_type in enumerate(spellings, start=1):
        response = await frozen.http.post(
            "/graphql",
            content='{"query": "{ __type(name: \\"Run🏃Swim🏊\\") { name } }"}'.encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        )
        assert answer(response) == (
            200,
            utf8(JSON),
            {"data": {"__type": None}, "extensions": {"cost": cost(10, 1000 - 10 * number)}},
        ), content_type


async def test_get_runs_queries_under_both_types_and_refuses_mutations_with_405(
    edge: Edge, session: AsyncSession, owner_engine: AsyncEngine
) -> None:
    acme = await f.gid(session, "Workspace", "acme")
    token = await edge.token(ADA)
    before = await team_names(owner_engine)
    for media_type in BOTH:
        headers = {"Authorization": f"Bearer {token}", "Accept": media_type}
        query = await edge.http.get(
            "/graphql",
            params={
                "query": "query Type($name: String!) { __type(name: $name) { name } }",
                "variables": '{"name": "Query"}',
                "operationName": "",
            },
            headers=headers,
        )
        assert query.status_code == 200
        assert query.headers["content-type"] == utf8(media_type)
        assert query.json()["data"] == {"__type": {"name": "Query"}}

        mutation = await edge.http.get(
            "/graphql", params={"query": create_team(acme, "Got")}, headers=headers
        )
        assert answer(mutation) == (
            405,
            utf8(media_type),
            error("BAD_USER_INPUT", "Mutations are only accepted over POST."),
        )
        assert mutation.headers["allow"] == "POST"
    assert await team_names(owner_engine) == before


async def test_an_internal_error_is_500_in_the_negotiated_type(
    edge: Edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await edge.token(ADA)

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a fault injected after the edge's checks")

    monkeypatch.setattr(pipeline, "authenticate", broken)
    for media_type in BOTH:
        response = await edge.http.post(
            "/graphql",
            json={"query": TYPENAME},
            headers={"Authorization": f"Bearer {token}", "Accept": media_type},
        )
        assert answer(response) == (
            500,
            utf8(media_type),
            error("INTERNAL_SERVER_ERROR", MASKED_MESSAGE),
        )


async def test_head_is_405_and_runs_nothing(edge: Edge) -> None:
    token = await edge.token(ADA)
    response = await edge.http.head(
        "/graphql",
        params={"query": TYPENAME},
        headers={"Authorization": f"Bearer {token}", "Accept": GRAPHQL_RESPONSE},
    )
    assert (response.status_code, response.headers["content-type"]) == (
        405,
        utf8(GRAPHQL_RESPONSE),
    )
    assert response.headers["allow"] == "GET, POST"
    assert len(edge.gateway.documents) == 0
