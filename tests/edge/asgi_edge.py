"""Helpers of the edge's HTTP tests (tests/edge/http/: limits, cost and rate limits,
persisted queries): apps built through ``create_app`` with the production defaults
of the edge settings (tests/conftest.py's ROOMY_BUDGET undone) or the settings under test.

``starter(settings, engine, owner_engine)`` returns ``serve``: ``async with
serve(**overrides) as edge`` starts one app (its own lifespan: document cache, rate-limit
buckets, persisted-query store, admission) over the test's database. ``redis_or_skip``
gives the real Redis at ``TEST_REDIS_URL`` and a key prefix of the test's own.

Each of those modules runs on one database per engine (tests/conftest.py's
``module_database_fixtures``), not one per test: a fresh app per test has its own
buckets, caches and store, and the tests that write check only what they changed (by
name), so they share it safely and the whole set stays fast.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.config import Settings
from app.main import Gateway, create_app
from tests.client import GraphQLClient
from tests.conftest import ROOMY_BUDGET

EDGE_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("REQUIRE_POSTGRES") == "1"

# The production defaults of what tests/conftest.py makes roomy.
PRODUCTION = {name: Settings.model_fields[name].default for name in ROOMY_BUDGET}

ADA, CY, DEE = "ada@acme.test", "cy@acme.test", "dee@globex.test"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(sha256_hash: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256_hash}}


def error(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    """A response body of one request-level error."""
    return {"errors": [{"message": message, "extensions": {**extensions, "code": code}}]}


@dataclass
class Edge:
    """One app and an HTTP client on it."""

    app: Starlette
    http: httpx.AsyncClient
    settings: Settings
    owner_engine: AsyncEngine

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    async def token(self, email: str) -> str:
        return await GraphQLClient(self.http, self.settings, self.owner_engine).token(email)

    async def post(
        self,
        query: str | None,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        extensions: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body: dict[str, Any] = {}
        if query is not None:
            body["query"] = query
        if variables is not None:
            body["variables"] = variables
        if extensions is not None:
            body["extensions"] = extensions
        sent = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return await self.http.post("/graphql", json=body, headers=sent)

    async def get(
        self,
        query: str | None = None,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> httpx.Response:
        params: dict[str, str] = {}
        if query is not None:
            params["query"] = query
        if variables is not None:
            params["variables"] = orjson.dumps(variables).decode()
        if extensions is not None:
            params["extensions"] = orjson.dumps(extensions).decode()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.get("/graphql", params=params, headers=headers)

    async def available(self, token: str) -> int:
        """The principal's points after a ``rateLimit`` query (which costs 2)."""
        response = await self.post(
            "{ rateLimit { throttleStatus { currentlyAvailable } } }", token=token
        )
        assert response.status_code == 200, response.text
        available: int = response.json()["data"]["rateLimit"]["throttleStatus"][
            "currentlyAvailable"
        ]
        return available


Serve = Callable[..., AbstractAsyncContextManager[Edge]]


def starter(settings: Settings, engine: AsyncEngine, owner_engine: AsyncEngine) -> Serve:
    """``serve(**overrides)``: an app with the production defaults and ``overrides``
    (``engine_=`` runs it on another engine of the same database)."""

    @asynccontextmanager
    async def serve(*, engine_: AsyncEngine | None = None, **overrides: Any) -> AsyncIterator[Edge]:
        configured = settings.model_copy(update={**PRODUCTION, **overrides})
        app = create_app(configured, engine_ or engine)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway.test"
            ) as http:
                yield Edge(app, http, configured, owner_engine)

    return serve


class Upload:
    """An ASGI ``receive`` offering ``total`` bytes in 64 KiB chunks; counts what the
    app pulled before it started its answer."""

    CHUNK = 64 * 1024

    def __init__(self, total: int) -> None:
        self.total = total
        self.offered = 0
        self.pulled_before_answer: int | None = None

    async def receive(self) -> dict[str, Any]:
        if self.pulled_before_answer is not None:
            return {"type": "http.disconnect"}
        size = min(self.CHUNK, self.total - self.offered)
        self.offered += size
        return {
            "type": "http.request",
            "body": b" " * size,
            "more_body": self.offered < self.total,
        }


async def raw_post(
    app: Starlette, upload: Upload, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], bytes]:
    """One POST /graphql straight through the ASGI interface."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"gateway.test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    status = 0
    response_headers: dict[str, str] = {}
    body = b""

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            upload.pulled_before_answer = upload.offered
            status = message["status"]
            response_headers.update((k.decode(), v.decode()) for k, v in message["headers"])
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(scope, upload.receive, send)
    return status, response_headers, body


@contextmanager
def recorded(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine executes within the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def signing_in(statements: list[str]) -> list[str]:
    """``statements`` with each that signs in (PostgreSQL: the whole sign-in, or the
    digest of a remembered one confirmed before an answer) as ``sign-in``: what a
    request that is answered after authentication alone sends, either way."""
    return ["sign-in" if "harmony_sign_in(" in s else s for s in statements]


@asynccontextmanager
async def redis_or_skip() -> AsyncIterator[tuple[str, str]]:
    """(Redis URL, a key prefix of this test's own); its keys are deleted afterwards.
    Skips when Redis is unreachable (fails under REQUIRE_POSTGRES=1)."""
    client = Redis.from_url(EDGE_REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        try:
            reachable = bool(await client.ping())
        except Exception:
            reachable = False
        if not reachable:
            if REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_POSTGRES=1 but Redis is not reachable at {EDGE_REDIS_URL}")
            pytest.skip(f"Redis is not reachable at {EDGE_REDIS_URL}")
        prefix = f"harmony-edge-test-{uuid.uuid4().hex[:12]}:"
        try:
            yield EDGE_REDIS_URL, prefix
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


async def redis_keys(prefix: str) -> list[str]:
    client = Redis.from_url(EDGE_REDIS_URL, decode_responses=True)
    try:
        return sorted([key async for key in client.scan_iter(match=f"{prefix}*")])
    finally:
        await client.aclose()
