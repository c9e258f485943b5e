"""The floor: the least a Python server must do to answer the benchmark's queries.

Starlette + asyncpg + orjson under ``uvicorn --workers 2 --loop uvloop --http httptools``:
read the JSON body, verify the HS256 bearer token (stdlib hmac), run ONE SQL statement
that returns the whole ``data`` object as JSON text (see ``benchmark.queries``), and send
it. No GraphQL, no ORM, no transaction. Every gateway figure is reported as a ratio to
this server under the same load, on the same machine, in the same run.

It connects as the database owner (``FLOOR_DATABASE_URL``): row-level security is the
gateway's second wall, not something a lower bound needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from benchmark.queries import FLOOR_CONVERSATIONS, FLOOR_MEMBERS, FLOOR_SETTINGS, FLOOR_VIEWER

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
UNAUTHENTICATED = orjson.dumps(
    {"errors": [{"message": "Invalid token.", "extensions": {"code": "UNAUTHENTICATED"}}]}
)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify(token: str, secret: bytes, issuer: str) -> int | None:
    """The user id of a valid, unexpired HS256 token of ``issuer``; None otherwise."""
    try:
        header, payload, signature = token.split(".")
        expected = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _b64(signature)):
            return None
        if orjson.loads(_b64(header)).get("alg") != "HS256":
            return None
        claims = orjson.loads(_b64(payload))
        sub = claims["sub"]
        if claims.get("iss") != issuer or claims["exp"] <= time.time() or not sub.isdigit():
            return None
        return int(sub)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


Handler = Callable[[asyncpg.Pool, int, dict[str, Any]], Awaitable[str | None]]


async def _viewer(pool: asyncpg.Pool, user_id: int, _: dict[str, Any]) -> str | None:
    value: str | None = await pool.fetchval(FLOOR_VIEWER, user_id)
    return value


async def _members(pool: asyncpg.Pool, user_id: int, v: dict[str, Any]) -> str | None:
    value: str | None = await pool.fetchval(
        FLOOR_MEMBERS, v["slug"], user_id, int(v.get("afterId") or 0)
    )
    return value


async def _conversations(pool: asyncpg.Pool, user_id: int, v: dict[str, Any]) -> str | None:
    after_at = v.get("afterAt")
    at = datetime.fromisoformat(after_at) if after_at else FAR_FUTURE
    value: str | None = await pool.fetchval(
        FLOOR_CONVERSATIONS, v["slug"], user_id, at, int(v.get("afterId") or 0)
    )
    return value


async def _settings(pool: asyncpg.Pool, user_id: int, v: dict[str, Any]) -> str | None:
    value: str | None = await pool.fetchval(FLOOR_SETTINGS, v["slug"], user_id)
    return value


def create_app() -> Starlette:
    dsn = os.environ["FLOOR_DATABASE_URL"]
    secret = os.environ["JWT_SECRET"].encode()
    issuer = os.environ.get("JWT_ISSUER", "harmony-dev")
    pool_size = int(os.environ.get("DB_POOL_SIZE", "10"))
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        state["pool"] = await asyncpg.create_pool(
            dsn,
            min_size=pool_size,
            max_size=pool_size,
            server_settings={"application_name": "harmony-bench-floor"},
        )
        try:
            yield
        finally:
            await state["pool"].close()

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def respond(request: Request) -> Response:
            _, _, token = request.headers.get("authorization", "").partition(" ")
            user_id = verify(token.strip(), secret, issuer)
            if user_id is None:
                return Response(UNAUTHENTICATED, media_type="application/json")
            params = orjson.loads(await request.body())
            data = await handler(state["pool"], user_id, params.get("variables") or {})
            if data is None:
                return Response(UNAUTHENTICATED, media_type="application/json")
            return Response(b'{"data":' + data.encode() + b"}", media_type="application/json")

        return respond

    routes = [
        Route(path, endpoint(handler), methods=["POST"])
        for path, handler in (
            ("/viewer", _viewer),
            ("/members", _members),
            ("/conversations", _conversations),
            ("/settings", _settings),
        )
    ]
    return Starlette(routes=routes, lifespan=lifespan)
