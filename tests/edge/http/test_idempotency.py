"""Idempotency-Key through HTTP, on both engines and both stores (the process's own and
the real Redis): a retry replays the first answer without running the mutation again,
another request under the same key is refused, keys belong to their principal and
expire, a key still running is a conflict, and only answers of operations that ran are
kept. The module shares one database per engine: each test creates teams of its own
names and checks only those."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.edge.idempotency import Claim, fingerprint
from app.models import Team
from tests.edge.asgi_edge import ADA, Edge, Serve, redis_keys, redis_or_skip
from tests.graphql.mutations.helpers import one, pk_of, workspace_id

CREATE_TEAM = (
    "mutation($input: CreateTeamInput!) "
    "{ createTeam(input: $input) { team { name } userErrors { code field } } }"
)
BEN = "ben@acme.test"

Started = Callable[..., AbstractAsyncContextManager[Edge]]


@pytest.fixture(params=["process", "redis"])
def started(request: pytest.FixtureRequest, serve: Serve) -> Started:
    """``started(**settings)``: an app whose idempotency records live in the process, or
    in the real Redis under a key prefix of the test's own."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Edge]:
        if request.param == "process":
            async with serve(**overrides) as edge:
                yield edge
            return
        async with (
            redis_or_skip() as (url, prefix),
            serve(redis_url=url, redis_key_prefix=prefix, **overrides) as edge,
        ):
            yield edge

    return start


def new_key() -> str:
    return str(uuid.uuid4())


async def create_team(
    edge: Edge, name: str, key: str | None, *, as_: str = ADA, **headers: str
) -> httpx.Response:
    acme = await workspace_id(edge.owner_engine, "acme")
    token = await edge.token(as_)
    sent = {**({"Idempotency-Key": key} if key is not None else {}), **headers}
    return await edge.post(
        CREATE_TEAM, {"input": {"workspaceId": acme, "name": name}}, token=token, headers=sent
    )


async def teams_named(owner_engine: AsyncEngine, name: str) -> int:
    return int(await one(owner_engine, "SELECT count(*) FROM teams WHERE name = :n", n=name))


async def created_events(owner_engine: AsyncEngine, name: str) -> int:
    return int(
        await one(
            owner_engine,
            "SELECT count(*) FROM audit_events WHERE action = 'team.created' AND CAST(summary AS TEXT) LIKE :s",
            s=f'%"{name}"%',
        )
    )


def unique(tag: str) -> str:
    return f"{tag} {uuid.uuid4().hex[:8]}"


async def test_a_retry_with_the_same_key_replays_the_first_answer(started: Started) -> None:
    async with started() as edge:
        name, key = unique("Replayed"), new_key()
        first = await create_team(edge, name, key)
        again = await create_team(edge, name, key)
        assert first.status_code == again.status_code == 200
        assert first.json()["data"] == {"createTeam": {"team": {"name": name}, "userErrors": []}}
        assert again.content == first.content  # the same JSON, its cost included
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["content-type"] == first.headers["content-type"]
        assert await teams_named(edge.owner_engine, name) == 1
        assert await created_events(edge.owner_engine, name) == 1
        if edge.settings.redis_url:  # kept where every worker sees it
            prefix = edge.settings.redis_key_prefix
            kept = [k for k in await redis_keys(prefix) if k.startswith(f"{prefix}idem:user:")]
            assert len(kept) == 1
        # Without the key the same request runs again (and is refused: the name is taken).
        third = await create_team(edge, name, None)
        assert third.json()["data"]["createTeam"]["userErrors"] == [
            {"code": "NAME_TAKEN", "field": ["input", "name"]}
        ]


async def test_a_refusal_in_user_errors_is_replayed_too(started: Started) -> None:
    async with started() as edge:
        key = new_key()
        first = await create_team(edge, " ", key)
        again = await create_team(edge, " ", key)
        assert first.json()["data"]["createTeam"]["userErrors"] == [
            {"code": "INVALID_VALUE", "field": ["input", "name"]}
        ]
        assert again.content == first.content
        assert again.headers["idempotent-replayed"] == "true"


async def test_the_same_key_with_another_request_is_refused_and_runs_nothing(
    started: Started,
) -> None:
    async with started() as edge:
        key, name, other = new_key(), unique("First"), unique("Other")
        assert (await create_team(edge, name, key)).status_code == 200
        refused = await create_team(edge, other, key)
        assert refused.status_code == 422
        assert refused.json() == {
            "errors": [
                {
                    "message": "This Idempotency-Key was used with another request: use a new "
                    "key for a new request.",
                    "extensions": {"code": "BAD_USER_INPUT"},
                }
            ]
        }
        assert await teams_named(edge.owner_engine, other) == 0


async def test_keys_belong_to_their_principal(started: Started) -> None:
    async with started() as edge:
        key, name = new_key(), unique("Ada's")
        assert (await create_team(edge, name, key)).status_code == 200
        # Ben's same key and the same request is Ben's own: it runs (the name is taken).
        bens = await create_team(edge, name, key, as_=BEN)
        assert bens.status_code == 200
        assert "idempotent-replayed" not in bens.headers
        assert bens.json()["data"]["createTeam"]["userErrors"] == [
            {"code": "NAME_TAKEN", "field": ["input", "name"]}
        ]
        # ...and another request under it is not "another request" for Ada's key.
        own = unique("Ben's")
        assert (await create_team(edge, own, key, as_=BEN)).status_code == 422  # Ben's own key
        assert await teams_named(edge.owner_engine, own) == 0


@pytest.mark.slow  # waits out an expiry (1.5 s, hardly any CPU): best beside others' work
async def test_a_kept_answer_expires(started: Started) -> None:
    async with started(idempotency_ttl_seconds=1) as edge:
        key, name = new_key(), unique("Expiring")
        assert (await create_team(edge, name, key)).status_code == 200
        await asyncio.sleep(1.5)
        again = await create_team(edge, name, key)
        assert "idempotent-replayed" not in again.headers  # it ran again
        assert again.json()["data"]["createTeam"]["userErrors"] == [
            {"code": "NAME_TAKEN", "field": ["input", "name"]}
        ]
        assert await teams_named(edge.owner_engine, name) == 1


async def test_a_key_still_running_is_a_conflict(started: Started) -> None:
    async with started() as edge:
        key, name = new_key(), unique("Running")
        acme = await workspace_id(edge.owner_engine, "acme")
        # The first request with this key is running (claimed as the pipeline claims it).
        store = edge.gateway.idempotency
        ada = await pk_of(edge.owner_engine, "SELECT id FROM users WHERE email = :e", e=ADA)
        claim = await store.begin(
            f"user:{ada}",  # app.edge.pipeline.principal_of
            key,
            fingerprint(CREATE_TEAM, None, {"input": {"workspaceId": acme, "name": name}}),
        )
        conflict = await create_team(edge, name, key)
        assert conflict.status_code == 409
        assert conflict.headers["retry-after"] == "1"
        assert conflict.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_IN_USE"}
        # Another request under a running key is still "another request".
        assert (await create_team(edge, unique("Else"), key)).status_code == 422
        assert await teams_named(edge.owner_engine, name) == 0
        # The first one failed and let the key go: the retry runs.
        assert isinstance(claim, Claim)
        await store.release(claim)
        retried = await create_team(edge, name, key)
        assert retried.json()["data"]["createTeam"]["team"] == {"name": name}


async def test_an_operation_that_did_not_run_keeps_nothing(started: Started) -> None:
    async with started() as edge:
        key, token = new_key(), await edge.token(ADA)
        # Variables that do not coerce: a request error, nothing ran.
        bad = await edge.post(
            CREATE_TEAM, {"input": {"name": 1}}, token=token, headers={"Idempotency-Key": key}
        )
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "data" not in bad.json()
        # The key is free: a corrected request under it runs.
        name = unique("Corrected")
        fixed = await create_team(edge, name, key)
        assert fixed.json()["data"]["createTeam"]["team"] == {"name": name}


async def test_a_malformed_key_is_refused_before_running(started: Started) -> None:
    async with started() as edge:
        name = unique("Malformed")
        for key in ("k" * 256, " "):
            refused = await create_team(edge, name, key)
            assert refused.status_code == 400, key
            assert refused.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
        assert (await create_team(edge, name, "k" * 255)).status_code == 200
        assert await teams_named(edge.owner_engine, name) == 1


async def test_queries_ignore_the_key(started: Started) -> None:
    async with started() as edge:
        token = await edge.token(ADA)
        for key in ("k" * 300, "same", "same"):
            response = await edge.post(
                "{ viewer { name } }", token=token, headers={"Idempotency-Key": key}
            )
            assert response.status_code == 200
            assert response.json()["data"] == {"viewer": {"name": "Ada Admin"}}
            assert "idempotent-replayed" not in response.headers


async def test_a_committed_field_keeps_the_answer_though_a_later_field_failed(
    started: Started, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two mutation fields, the first committed, the second failing inside (an internal
    error): the answer is kept as it is, so a retry under the key does not create the
    first team again."""
    from app.domain.members import writes as member_writes

    original = member_writes.set_team_members

    async def set_team_members(session: Any, workspace: int, team: int, members: Any) -> Any:
        if members == []:
            written = await session.get(Team, team)
            if written.name.startswith("Boom"):
                raise RuntimeError("a bug in the second field")
        return await original(session, workspace, team, members)

    monkeypatch.setattr(member_writes, "set_team_members", set_team_members)
    first, boom = unique("First"), unique("Boom")
    async with started() as edge:
        acme = await workspace_id(edge.owner_engine, "acme")
        two = (
            f'mutation {{ a: createTeam(input: {{workspaceId: "{acme}", name: "{first}"}}) '
            "{ team { name } } "
            f'b: createTeam(input: {{workspaceId: "{acme}", name: "{boom}"}}) '
            "{ team { name } } }"
        )
        token = await edge.token(ADA)
        key = {"Idempotency-Key": new_key()}
        answered = await edge.post(two, token=token, headers=key)
        body = answered.json()
        assert body["data"] is None  # b's payload is non-null: its error nulls the whole data
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL_SERVER_ERROR"]
        again = await edge.post(two, token=token, headers=key)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == answered.content
        assert await teams_named(edge.owner_engine, first) == 1
        assert await teams_named(edge.owner_engine, boom) == 0


async def test_a_committed_field_keeps_a_503_whose_replay_asks_for_no_retry(
    started: Started, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database lost after the first of two mutation fields committed: the 503 says a
    change was committed and is the key's answer. Its replay is the same status and body
    without ``Retry-After``: retrying the key would only replay it again."""
    from app.db.failures import RETRY_AFTER_SECONDS, DatabaseUnavailable
    from app.domain.members import writes as member_writes

    original = member_writes.set_team_members

    async def set_team_members(session: Any, workspace: int, team: int, members: Any) -> Any:
        if members == []:
            written = await session.get(Team, team)
            if written.name.startswith("Lost"):
                raise DatabaseUnavailable("the database connection was lost")
        return await original(session, workspace, team, members)

    monkeypatch.setattr(member_writes, "set_team_members", set_team_members)
    first, lost = unique("First"), unique("Lost")
    async with started() as edge:
        acme = await workspace_id(edge.owner_engine, "acme")
        two = (
            f'mutation {{ a: createTeam(input: {{workspaceId: "{acme}", name: "{first}"}}) '
            "{ team { name } } "
            f'b: createTeam(input: {{workspaceId: "{acme}", name: "{lost}"}}) '
            "{ team { name } } }"
        )
        token = await edge.token(ADA)
        key = {"Idempotency-Key": new_key()}
        answered = await edge.post(two, token=token, headers=key)
        assert answered.status_code == 503
        assert answered.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
        [error] = answered.json()["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "A change this request made before was committed" in error["message"]
        again = await edge.post(two, token=token, headers=key)
        assert again.status_code == 503
        assert again.headers["idempotent-replayed"] == "true"
        assert "retry-after" not in again.headers
        assert again.content == answered.content
        assert await teams_named(edge.owner_engine, first) == 1
        assert await teams_named(edge.owner_engine, lost) == 0
