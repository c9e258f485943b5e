"""Two gateway processes (real uvicorn servers) on one database, sharing one Redis: one
principal has one budget, whichever process answers; a persisted query registered through
one is found by the other; and a write through one is read through the other at once
(nothing per process caches data: docs/scaling.md).

The two processes are started once per engine for the whole module, over one database
(a gateway takes seconds to start): each test signs in as a user of its own, so none
finds a budget another one spent, and reads what it changed relative to what it saw."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.tokens import issue_user_token
from app.config import Settings
from tests import factories as f
from tests.conftest import app_settings, module_database_fixtures
from tests.edge.conftest import REDIS_URL, delete_keys, new_prefix, require_redis
from tests.edge.live import gateway_process

MEMBERS = "{ workspace(slug: \"acme\") { members(first: 50) { nodes { id user { id } role { id } teams { id } } } } }"  # fmt: skip
MEMBERS_COST = 202


SHARED = {
    "REDIS_URL": REDIS_URL,
    "RATE_LIMIT_POINTS": "1000",
    # Slow enough that no point comes back while the test runs.
    "RATE_LIMIT_RESTORE_PER_SECOND": "0.001",
}


pytestmark = pytest.mark.xdist_group("two_processes")

backend, database_url = module_database_fixtures()


@pytest.fixture(scope="module")
async def two_gateways(
    module_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str]]:
    await require_redis()
    prefix = new_prefix()
    env = {**SHARED, "REDIS_KEY_PREFIX": prefix}
    settings, logs = app_settings(module_database_url), tmp_path_factory.mktemp("gateways")
    try:
        with (
            gateway_process(settings, env, logs / "a.log") as a,
            gateway_process(settings, env, logs / "b.log") as b,
        ):
            yield a, b
    finally:
        await delete_keys(prefix)


async def test_one_token_has_one_budget_across_two_processes(
    two_gateways: tuple[str, str], session: AsyncSession, settings: Settings
) -> None:
    ben = await f.user_id(session, "ben@acme.test")  # a budget no other test here spends
    headers = {"Authorization": f"Bearer {issue_user_token(settings, ben)}"}
    statuses: list[tuple[int, int | None]] = []
    async with httpx.AsyncClient(timeout=10) as http:
        for i in range(8):  # alternate between the two processes
            url = two_gateways[i % 2]
            response = await http.post(f"{url}/graphql", json={"query": MEMBERS}, headers=headers)
            body = response.json()
            available = body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
            statuses.append((response.status_code, available))
    # 1,000 points buy four members pages (202 each) in all, not four per process.
    assert statuses == [
        (200, 1000 - MEMBERS_COST),
        (200, 1000 - 2 * MEMBERS_COST),
        (200, 1000 - 3 * MEMBERS_COST),
        (200, 1000 - 4 * MEMBERS_COST),
        (429, 1000 - 4 * MEMBERS_COST),
        (429, 1000 - 4 * MEMBERS_COST),
        (429, 1000 - 4 * MEMBERS_COST),
        (429, 1000 - 4 * MEMBERS_COST),
    ]


async def test_a_query_persisted_through_one_process_runs_on_the_other(
    two_gateways: tuple[str, str], session: AsyncSession, settings: Settings
) -> None:
    cy = await f.user_id(session, "cy@acme.test")
    headers = {"Authorization": f"Bearer {issue_user_token(settings, cy)}"}
    query = '{ workspace(slug: "acme") { name } }'
    extensions = {
        "persistedQuery": {"version": 1, "sha256Hash": hashlib.sha256(query.encode()).hexdigest()}
    }
    a, b = two_gateways
    async with httpx.AsyncClient(timeout=10) as http:
        unknown = await http.post(f"{b}/graphql", json={"extensions": extensions}, headers=headers)
        registered = await http.post(
            f"{a}/graphql", json={"query": query, "extensions": extensions}, headers=headers
        )
        by_hash = await http.post(f"{b}/graphql", json={"extensions": extensions}, headers=headers)
    assert [e["extensions"]["code"] for e in unknown.json()["errors"]] == [
        "PERSISTED_QUERY_NOT_FOUND"
    ]
    assert registered.json()["data"] == {"workspace": {"name": "Acme Corp"}}
    assert by_hash.status_code == 200
    assert by_hash.json()["data"] == {"workspace": {"name": "Acme Corp"}}


TEAMS = 'query Teams { workspace(slug: "acme") { teams(first: 20) { nodes { id name } } } }'
CREATE_TEAM = "mutation Create($input: CreateTeamInput!) { createTeam(input: $input) { team { id name } userErrors { code } } }"  # fmt: skip
RENAME_TEAM = "mutation Rename($input: UpdateTeamInput!) { updateTeam(input: $input) { team { name } userErrors { code } } }"  # fmt: skip


async def test_a_write_through_one_process_is_read_through_the_other_at_once(
    two_gateways: tuple[str, str], session: AsyncSession, settings: Settings
) -> None:
    ada = await f.user_id(session, "ada@acme.test")
    headers = {"Authorization": f"Bearer {issue_user_token(settings, ada)}"}
    acme = await f.gid(session, "Workspace", "acme")
    a, b = two_gateways

    async def run(url: str, query: str, variables: dict[str, object] | None = None) -> Any:
        response = await http.post(
            f"{url}/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def names(data: Any) -> set[str]:
        return {team["name"] for team in data["workspace"]["teams"]["nodes"]}

    async with httpx.AsyncClient(timeout=10) as http:
        before = [names(await run(url, TEAMS)) for url in (a, b)]  # both parsed it already
        created = await run(a, CREATE_TEAM, {"input": {"workspaceId": acme, "name": "Night"}})
        seen_by_b = names(await run(b, TEAMS))
        team = created["createTeam"]["team"]["id"]
        renamed = await run(b, RENAME_TEAM, {"input": {"teamId": team, "name": "Late"}})
        seen_by_a = names(await run(a, TEAMS))
    assert before[0] == before[1]
    assert created["createTeam"]["userErrors"] == []
    assert seen_by_b == before[0] | {"Night"}
    assert renamed["updateTeam"] == {"team": {"name": "Late"}, "userErrors": []}
    assert seen_by_a == before[0] | {"Late"}
