"""The partner guide's example client (examples/partner_sync.py) does what docs/partners.md
says, run as a partner runs it: a subprocess with an API key made through createApiKey,
against a real gateway process over the demo data.

What is checked here is the client's side of HTTP (paging, Retry-After, backing off),
which the engine has no part in: the first two run on SQLite only; the third needs a
table lock, so runs on PostgreSQL. Paging itself is checked on both engines
(tests/graphql/test_pagination.py, tests/graphql/test_backward_pagination.py)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.tokens import issue_user_token
from app.config import Settings
from tests import factories as f
from tests.edge.live import ROOT, gateway_process

EXAMPLE = ROOT / "examples" / "partner_sync.py"

pytestmark = pytest.mark.slow  # a gateway process each


def _post(http: httpx.Client, credential: str, query: str, variables: Any = None) -> dict[str, Any]:
    answer = http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {credential}"},
    )
    body: dict[str, Any] = answer.json()
    return body


def _create_key(http: httpx.Client, admin_token: str, permissions: list[str]) -> tuple[str, str]:
    """An API key of acme made as the guide says (createApiKey); (its ID, its secret)."""
    workspace = _post(http, admin_token, '{ workspace(slug: "acme") { id } }')
    payload = _post(
        http,
        admin_token,
        "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {"
        " apiKey { id } secret userErrors { code } } }",
        {
            "input": {
                "workspaceId": workspace["data"]["workspace"]["id"],
                "name": "Partner sync",
                "permissions": permissions,
            }
        },
    )["data"]["createApiKey"]
    assert payload["userErrors"] == []
    return payload["apiKey"]["id"], payload["secret"]


def _run(url: str, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARMONY_ENDPOINT": f"{url}/graphql", "HARMONY_API_KEY": key}
    return subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, str(EXAMPLE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _admin_token(settings: Settings, session: AsyncSession) -> str:
    """ada's token; the session's read ends here (an open SQLite read would hold up the
    gateway's start)."""
    ada = await f.user_id(session, "ada@acme.test")
    await session.commit()
    return issue_user_token(settings, ada)


@pytest.mark.sqlite_only  # engine-independent: the module's docstring says why
async def test_the_example_reads_every_member_and_conversation_a_page_at_a_time(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    acme = await f.workspace_id(session, "acme")
    member_role = await f.role_id(session, acme, "Member")
    users = await f.create_users(session, 21)
    await f.add_members(session, acme, [f.pk(u) for u in users], member_role)
    ada = await f.user_id(session, "ada@acme.test")
    await f.create_conversations(session, acme, 7, host=ada)
    await session.commit()
    token = await _admin_token(settings, session)

    with (
        gateway_process(settings, {}, tmp_path / "gw.log") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        key_id, key = _create_key(http, token, ["members:read:all", "conversations:read:all"])
        synced = _run(url, key, "--page-size", "10")
        assert (synced.returncode, synced.stderr) == (0, "")
        assert synced.stdout.splitlines() == [
            "workspace: acme (Acme Corp)",
            "members: 25 of 25 in 3 pages",  # the demo's 4 and 21 more: 10 + 10 + 5
            "conversations: 12 of 12 in 2 pages",  # the demo's 5 and 7 more: 10 + 2
            "retries: none; paced 0.0 s",
        ]

        _, members_key = _create_key(http, token, ["members:read:all"])
        members_only = _run(url, members_key)
        assert (members_only.returncode, members_only.stdout.splitlines()[1:3]) == (
            0,
            [
                "members: 25 of 25 in 1 page",
                "conversations: skipped, FORBIDDEN: You need the permission "
                "conversations:read:own in this workspace.",
            ],
        )

        revoked = _post(
            http,
            token,
            "mutation($id: ID!) { revokeApiKey(input: {apiKeyId: $id}) { userErrors { code } } }",
            {"id": key_id},
        )
        assert revoked["data"]["revokeApiKey"]["userErrors"] == []
        refused = _run(url, key)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "error: Unauthenticated: UNAUTHENTICATED (HTTP 401): "
        "Invalid API key: unknown, revoked or expired.\n"
    )


@pytest.mark.sqlite_only  # engine-independent: the module's docstring says why
async def test_the_example_waits_out_retry_after_when_its_keys_budget_is_spent(
    settings: Settings, session: AsyncSession, tmp_path: Path
) -> None:
    token = await _admin_token(settings, session)
    small_budget = {
        "RATE_LIMIT_POINTS": "100",
        "MAX_QUERY_COST": "100",
        "RATE_LIMIT_RESTORE_PER_SECOND": "40",
    }
    hundred_points = '{ workspace(slug: "acme") { members(first: 98) { nodes { id } } } }'
    with (
        gateway_process(settings, small_budget, tmp_path / "gw.log") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        _, key = _create_key(http, token, ["members:read:all", "conversations:read:all"])
        # Another job on the same key empties its bucket, then is refused: the key is
        # answered 429 until that refusal's Retry-After (100 points at 40 a second: 3 s).
        spent = _post(http, key, hundred_points)
        assert spent["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
        assert _post(http, key, hundred_points)["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        synced = _run(url, key, "--page-size", "2")
    assert (synced.returncode, synced.stderr) == (0, "")
    lines = synced.stdout.splitlines()
    assert lines[1:3] == ["members: 4 of 4 in 2 pages", "conversations: 5 of 5 in 3 pages"]
    assert lines[3].startswith("retries: 1 after HTTP 429; paced ")  # then within budget


def _timeouts(http: httpx.Client) -> float:
    """``harmony_request_timeouts_total`` on the gateway's /metrics."""
    metrics = http.get("/metrics").text
    lines = [
        line for line in metrics.splitlines() if line.startswith("harmony_request_timeouts_total")
    ]
    return sum(float(line.split()[-1]) for line in lines)


@pytest.mark.postgres_only  # a table lock another transaction waits on
async def test_the_example_backs_off_after_a_504_and_finishes_the_list(
    settings: Settings, session: AsyncSession, owner_engine: AsyncEngine, tmp_path: Path
) -> None:
    token = await _admin_token(settings, session)
    with (
        gateway_process(settings, {"REQUEST_TIMEOUT_SECONDS": "1"}, tmp_path / "gw.log") as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        _, key = _create_key(http, token, ["members:read:all", "conversations:read:all"])
        async with owner_engine.connect() as locker:
            await locker.execute(text("BEGIN"))
            await locker.execute(text("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE"))
            env = {**os.environ, "HARMONY_ENDPOINT": f"{url}/graphql", "HARMONY_API_KEY": key}
            example = await asyncio.create_subprocess_exec(
                sys.executable,
                str(EXAMPLE),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            # The conversations page waits on the lock until its deadline (504); only then
            # does the lock go, so the example's retry finds the table free.
            for _ in range(600):
                if _timeouts(http) >= 1:
                    break
                await asyncio.sleep(0.05)
            await locker.rollback()
        out, err = await asyncio.wait_for(example.communicate(), timeout=60)
    stdout, stderr = out.decode(), err.decode()
    assert (example.returncode, stderr) == (0, "")
    lines = stdout.splitlines()
    assert lines[1:3] == ["members: 4 of 4 in 1 page", "conversations: 5 of 5 in 1 page"]
    assert re.fullmatch(r"retries: \d after HTTP 504; paced 0\.0 s", lines[3]), lines[3]
