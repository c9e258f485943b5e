"""Cost and rate limiting through the ASGI app, on both engines, with the production
defaults (1,000 points, 50 restored per second, MAX_QUERY_COST 1,000): extensions.cost on
every executed response, the cost model's known figures, QUERY_TOO_COMPLEX (nothing
executed, the flat 50 points of a refused document charged) and RATE_LIMITED (nothing
executed, nothing taken; then the penalty box), one budget per principal, and one
budget across replicas through Redis."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.db.engine import create_engine
from app.edge import pipeline
from app.edge.persisted import trusted_documents
from app.edge.pipeline import REFUSED_DOCUMENT_COST
from tests import factories as f
from tests.edge.asgi_edge import (
    ADA,
    CY,
    Edge,
    Serve,
    Upload,
    error,
    raw_post,
    recorded,
    redis_keys,
    redis_or_skip,
    signing_in,
)

FULL = {"maximumAvailable": 1000, "restoreRate": 50.0}
MB = 2**20


def manifest_query(name: str) -> str:
    (text,) = (t for t in trusted_documents().values() if re.match(rf"\w+ {name}\b", t))
    return text


def cost(response: Any) -> dict[str, Any]:
    extensions: dict[str, Any] = response.json()["extensions"]
    assert set(extensions) == {"cost"}
    return dict(extensions["cost"])


# --- 3. cost ------------------------------------------------------------------------------


async def test_an_executed_response_carries_its_cost(edge: Edge) -> None:
    response = await edge.post("{ viewer { id name } }", token=await edge.token(ADA))
    assert response.status_code == 200
    assert cost(response) == {
        "requestedQueryCost": 1,
        "actualQueryCost": 1,
        "throttleStatus": {**FULL, "currentlyAvailable": 999},
    }


async def test_a_response_with_field_errors_carries_its_cost(edge: Edge) -> None:
    # cy is a plain member of acme: no billing:read:all, so subscription is an error.
    response = await edge.post(
        '{ workspace(slug: "acme") { name subscription { plan } } }', token=await edge.token(CY)
    )
    body = response.json()
    assert body["data"] == {"workspace": {"name": "Acme Corp", "subscription": None}}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert cost(response) == {
        "requestedQueryCost": 2,
        "actualQueryCost": 1,
        "throttleStatus": {**FULL, "currentlyAvailable": 998},
    }


async def test_the_viewer_queries_cost_one_object_each(edge: Edge) -> None:
    token = await edge.token(ADA)
    response = await edge.post("{ viewer { id name email } }", token=token)
    assert (cost(response)["requestedQueryCost"], cost(response)["actualQueryCost"]) == (1, 1)
    # The SPA's Viewer query: the viewer, and the list of workspaces counted once.
    response = await edge.post(manifest_query("Viewer"), token=token)
    assert cost(response)["requestedQueryCost"] == 2
    workspaces = response.json()["data"]["viewer"]["workspaces"]
    assert cost(response)["actualQueryCost"] == 1 + len(workspaces)


async def test_a_members_page_of_50_costs_202(edge: Edge) -> None:
    query = (
        '{ workspace(slug: "acme") { members(first: 50) { totalCount nodes '
        "{ id user { id name } role { name } teams { name } } } } }"
    )
    response = await edge.post(query, token=await edge.token(ADA))
    members = response.json()["data"]["workspace"]["members"]
    teams = sum(len(m["teams"]) for m in members["nodes"])
    assert cost(response)["requestedQueryCost"] == 1 + 1 + 50 * (1 + 1 + 1 + 1)
    assert cost(response)["actualQueryCost"] == 1 + 1 + 3 * len(members["nodes"]) + teams


async def test_the_spas_members_page_of_50_costs_204(edge: Edge) -> None:
    # Also the advisories list and pageInfo: one object each.
    response = await edge.post(
        manifest_query("MembersPage"), {"slug": "acme", "first": 50}, token=await edge.token(ADA)
    )
    assert "errors" not in response.json()
    assert cost(response)["requestedQueryCost"] == 204


async def test_a_connection_without_first_is_estimated_at_100_items(edge: Edge) -> None:
    response = await edge.post(
        '{ workspace(slug: "acme") { members { nodes { id } } } }', token=await edge.token(ADA)
    )
    nodes = response.json()["data"]["workspace"]["members"]["nodes"]
    assert cost(response)["requestedQueryCost"] == 1 + 1 + 100
    assert cost(response)["actualQueryCost"] == 1 + 1 + len(nodes)


async def test_first_is_read_from_the_variables_of_each_request(edge: Edge) -> None:
    token = await edge.token(ADA)
    query = 'query M($n: Int) { workspace(slug: "acme") { members(first: $n) { nodes { id } } } }'
    requested = []
    for variables in ({"n": 5}, {"n": 50}, {}, {"n": None}, {"n": 1}):
        response = await edge.post(query, variables, token=token)
        assert "errors" not in response.json(), response.text
        requested.append(cost(response)["requestedQueryCost"])
    assert requested == [7, 52, 102, 102, 3]


async def test_a_mutation_costs_10_plus_its_payload(edge: Edge, session: AsyncSession) -> None:
    acme = await f.gid(session, "Workspace", "acme")
    query = (
        f'mutation {{ createTeam(input: {{workspaceId: "{acme}", name: "Costed"}}) '
        "{ team { name } userErrors { code } } }"
    )
    response = await edge.post(query, token=await edge.token(ADA))
    assert response.json()["data"] == {"createTeam": {"team": {"name": "Costed"}, "userErrors": []}}
    assert cost(response) == {
        "requestedQueryCost": 10 + 1 + 1,
        "actualQueryCost": 10 + 1,  # no userErrors: no object
        "throttleStatus": {**FULL, "currentlyAvailable": 1000 - 12},
    }


# 1 (workspace) + 1 (members) + 100 x (member, user, role, teams) = 402 per alias.
def members_in_depth(aliases: int) -> str:
    one = (
        '{alias}: workspace(slug: "acme") { members(first: 100) '
        "{ nodes { user { id } role { id } teams { id } } } }"
    )
    return "{ " + " ".join(one.replace("{alias}", f"w{i}") for i in range(aliases)) + " }"


async def test_a_query_over_the_cost_limit_is_refused_without_sql_and_charged_50(
    serve: Serve, engine: AsyncEngine
) -> None:
    async with serve(rate_limit_restore_per_second=0.001) as edge:  # any charge would show
        token = await edge.token(ADA)
        await edge.post("{", token=token)
        with recorded(engine) as authentication_alone:
            await edge.post("{", token=token)  # refused when parsed: authentication only
        before = await edge.available(token)
        with recorded(engine) as statements:
            response = await edge.post(members_in_depth(3), token=token)
        after = await edge.available(token)
    assert response.status_code == 200
    assert response.json() == {
        **error(
            "QUERY_TOO_COMPLEX",
            "The operation's cost is 1206: the limit is 1000 "
            "(see docs/limits.md: ask for smaller pages).",
            cost=1206,
            maximumCost=1000,
        ),
        "extensions": {"cost": {"requestedQueryCost": 1206}},
    }
    assert authentication_alone
    assert signing_in(statements) == signing_in(authentication_alone)
    assert after == before - REFUSED_DOCUMENT_COST - 2  # a refused document's flat 50


async def test_a_query_at_the_cost_limit_runs(edge: Edge) -> None:
    # 1000 = 2 x 402 + (1 + 1 + 97 x 2)
    query = members_in_depth(2)[:-1] + (
        ' w2: workspace(slug: "acme") { members(first: 97) { nodes { user { id } } } } }'
    )
    response = await edge.post(query, token=await edge.token(ADA))
    assert "errors" not in response.json()
    assert cost(response)["requestedQueryCost"] == 1000
    assert cost(response)["throttleStatus"]["currentlyAvailable"] == 0


async def test_rate_limit_field_gives_the_figures_of_the_extension(edge: Edge) -> None:
    query = (
        "{ rateLimit { requestedQueryCost throttleStatus "
        "{ maximumAvailable currentlyAvailable restoreRate } } viewer { id } }"
    )
    response = await edge.post(query, token=await edge.token(ADA))
    figures = response.json()["data"]["rateLimit"]
    assert figures == {
        "requestedQueryCost": 3,
        "throttleStatus": {**FULL, "currentlyAvailable": 997},
    }
    assert cost(response) == {**figures, "actualQueryCost": 3}


# --- 4. rate limit ------------------------------------------------------------------------

EXPENSIVE = members_in_depth(2)  # 804 points: one fits a full bucket, two do not


def assert_rate_limited(response: Any) -> int:
    """A 429 with consistent figures; returns Retry-After."""
    assert response.status_code == 429
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit()
    seconds = int(retry_after)
    body = response.json()
    available = body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
    assert body == {
        **error(
            "RATE_LIMITED",
            f"The operation costs 804 points and {available} are available: retry in {seconds} s.",
        ),
        "extensions": {
            "cost": {
                "requestedQueryCost": 804,
                "throttleStatus": {**FULL, "currentlyAvailable": available},
            }
        },
    }
    assert 0 <= available < 804
    # points are in [available, available + 1): the wait is what 50 points/s take to fill the gap
    assert seconds in {math.ceil((803 - available) / 50), math.ceil((804 - available) / 50)}
    assert seconds >= 1
    return seconds


async def test_repeated_expensive_queries_are_rate_limited_and_not_executed(
    edge: Edge, engine: AsyncEngine
) -> None:
    token = await edge.token(ADA)
    started = time.monotonic()
    await edge.post("{", token=token)
    with recorded(engine) as authentication_alone:
        await edge.post("{", token=token)  # refused when parsed: authentication only
    first = await edge.post(EXPENSIVE, token=token)
    refilled = (time.monotonic() - started) * FULL["restoreRate"]  # at most, meanwhile
    assert first.status_code == 200
    assert "errors" not in first.json()
    # 1000 - 2 x 50 (the refused documents) - 804, and what refilled meanwhile
    assert 96 <= cost(first)["throttleStatus"]["currentlyAvailable"] <= 96 + refilled + 1

    with recorded(engine) as statements:
        second = await edge.post(EXPENSIVE, token=token)
    assert 14 <= assert_rate_limited(second) <= 15
    assert "data" not in second.json()
    assert signing_in(statements) == signing_in(authentication_alone)  # nothing of the query ran


async def test_a_credential_refused_for_points_is_answered_without_body_parse_or_database(
    edge: Edge, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "PENALTY_DELAY_SECONDS", 0.2)  # 1 s in production
    token = await edge.token(ADA)
    assert (await edge.post(EXPENSIVE, token=token)).status_code == 200
    retry_after = assert_rate_limited(await edge.post(EXPENSIVE, token=token))

    upload = Upload(300 * MB)
    another = await edge.token(ADA)  # minted by the test, not during the block
    with recorded(engine) as statements:
        started = time.monotonic()
        held = await edge.post(EXPENSIVE, token=another)  # any token of ada's
        paused = time.monotonic() - started
        status, _, _ = await raw_post(
            edge.app, upload, [(b"authorization", f"Bearer {token}".encode())]
        )
    assert statements == []
    assert upload.pulled_before_answer == 0
    assert status == 429
    assert 0.2 <= paused < 1
    assert held.status_code == 429
    seconds = int(held.headers["retry-after"])
    assert 1 <= seconds <= retry_after
    status_json = held.json()["extensions"]["cost"]["throttleStatus"]
    assert held.json() == {
        **error(
            "RATE_LIMITED",
            f"Out of points ({status_json['currentlyAvailable']} available after the last "
            f"refusal): retry in {seconds} s.",
        ),
        "extensions": {"cost": {"throttleStatus": status_json}},
    }
    assert status_json["maximumAvailable"] == 1000
    cy = await edge.post("{ viewer { id } }", token=await edge.token(CY))
    assert cy.status_code == 200


async def test_another_users_budget_is_separate(edge: Edge) -> None:
    ada = await edge.token(ADA)
    assert (await edge.post(EXPENSIVE, token=ada)).status_code == 200
    assert_rate_limited(await edge.post(EXPENSIVE, token=ada))
    cy = await edge.post(EXPENSIVE, token=await edge.token(CY))
    assert cy.status_code == 200
    assert cost(cy)["throttleStatus"]["currentlyAvailable"] == 196


async def test_an_api_keys_budget_is_separate_from_its_creators_token(
    edge: Edge, session: AsyncSession
) -> None:
    acme = await f.workspace_id(session, "acme")
    ada_id = await f.user_id(session, ADA)
    key = await f.create_api_key(
        session, acme, ada_id, ["members:read:all", "teams:read:all", "roles:read:all"]
    )
    await session.commit()
    ada = await edge.token(ADA)
    assert (await edge.post(EXPENSIVE, token=ada)).status_code == 200
    assert_rate_limited(await edge.post(EXPENSIVE, token=ada))

    by_key = await edge.post(EXPENSIVE, token=key)
    assert by_key.status_code == 200
    assert "errors" not in by_key.json()
    assert cost(by_key)["throttleStatus"]["currentlyAvailable"] == 196
    assert_rate_limited(await edge.post(EXPENSIVE, token=key))  # the key's own refusal


async def test_without_redis_each_replica_has_its_own_buckets(serve: Serve) -> None:
    async with serve() as one, serve() as two:
        token = await one.token(ADA)
        assert (await one.post(EXPENSIVE, token=token)).status_code == 200
        assert (await two.post(EXPENSIVE, token=token)).status_code == 200


async def test_two_replicas_share_one_budget_through_redis(
    serve: Serve, settings: Settings
) -> None:
    other_engine = create_engine(settings)  # the second replica's own pool
    try:
        async with redis_or_skip() as (url, prefix):
            shared = {"redis_url": url, "redis_key_prefix": prefix}
            async with serve(**shared) as one, serve(engine_=other_engine, **shared) as two:
                token = await one.token(ADA)
                first = await one.post(EXPENSIVE, token=token)
                assert cost(first)["throttleStatus"]["currentlyAvailable"] == 196
                assert_rate_limited(await two.post(EXPENSIVE, token=token))
                assert_rate_limited(await one.post(EXPENSIVE, token=token))
                cy = await two.post(EXPENSIVE, token=await two.token(CY))
                assert cost(cy)["throttleStatus"]["currentlyAvailable"] == 196
                keys = await redis_keys(prefix)
        assert len(keys) == 2
        assert all(re.fullmatch(re.escape(prefix) + r"rl:user:\d+", k) for k in keys)
    finally:
        await other_engine.dispose()
