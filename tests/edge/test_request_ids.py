"""Every response carries ``X-Request-Id`` (DESIGN: HTTP), not only /graphql's: the
client's id is echoed, otherwise each response gets a new one."""

from __future__ import annotations

import pytest

from tests.client import GraphQLClient


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/no-such-page", 404),
        ("PUT", "/graphql", 405),
        ("POST", "/graphql", 415),
    ],
)
async def test_every_response_carries_a_request_id(
    client: GraphQLClient, method: str, path: str, status: int
) -> None:
    first = await client.http.request(method, path)
    second = await client.http.request(method, path)
    echoed = await client.http.request(method, path, headers={"X-Request-Id": "trace-42"})

    assert (first.status_code, second.status_code, echoed.status_code) == (status,) * 3
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert len(first.headers["x-request-id"]) == 24
    assert echoed.headers.get_list("x-request-id") == ["trace-42"]


async def test_a_cors_preflight_carries_a_request_id(client: GraphQLClient) -> None:
    response = await client.http.options("/healthz", headers={"X-Request-Id": "pre-1"})
    assert response.headers["x-request-id"] == "pre-1"


async def test_the_router_still_answers_what_the_endpoint_does_not(client: GraphQLClient) -> None:
    """The endpoint takes GET, HEAD and POST on /graphql directly (EndpointFirst); other
    methods and other spellings of the path get the router's answers, as before."""
    deleted = await client.http.delete("/graphql")
    slashed = await client.http.post("/graphql/", json={"query": "{ __typename }"})
    allowed = set(deleted.headers["allow"].split(", "))
    assert (deleted.status_code, allowed) == (405, {"GET", "HEAD", "POST"})
    assert (slashed.status_code, slashed.headers["location"]) == (
        307,
        "http://gateway.test/graphql",
    )
