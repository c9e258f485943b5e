"""Exact SQL statements per request: each workload's requests go once through the
gateway's ASGI app in this process (built by ``app.main:create_app``, the factory
``python -m app serve`` runs, with the same environment), while a class-level
SQLAlchemy ``before_cursor_execute`` listener counts every statement any engine sends.

    python -m benchmark.sqlcount INPUT.json OUTPUT.json

INPUT: {"workload": [[token, body], ...], ...}. OUTPUT: per workload, the statement
count of each request (they should agree), and the statements of the first one.
Transaction control (BEGIN/COMMIT, issued by the driver) is not counted.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import Engine

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Message, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

statements: list[str] = []


def _count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    statements.append(" ".join(statement.split()))


class Lifespan:
    """Drives the ASGI lifespan protocol, so any ASGI app starts as under uvicorn."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Future[None] | None = None

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        await self._outbox.put(message)

    async def _step(self, kind: str) -> None:
        await self._inbox.put({"type": f"lifespan.{kind}"})
        reply = await self._outbox.get()
        if reply["type"] != f"lifespan.{kind}.complete":
            raise RuntimeError(f"lifespan {kind} failed: {reply}")

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        self._task = asyncio.ensure_future(self.app(scope, self._receive, self._send))
        await self._step("startup")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._step("shutdown")
        if self._task is not None:
            await self._task


async def post(app: ASGIApp, state: dict[str, Any], token: str, body: bytes) -> tuple[int, bytes]:
    headers = [
        (b"host", b"bench"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": dict(state),
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def measure(requests: dict[str, list[list[str]]]) -> dict[str, Any]:
    from app.main import create_app

    event.listen(Engine, "before_cursor_execute", _count)
    app: ASGIApp = create_app()
    out: dict[str, Any] = {}
    async with Lifespan(app) as lifespan:
        # One request first, so per-process first-use work (e.g. a type cache) is not counted.
        token, body = next(iter(requests.values()))[0]
        await post(app, lifespan.state, token, body.encode())
        for name, items in requests.items():
            counts: list[int] = []
            first: list[str] = []
            for token, body in items:
                statements.clear()
                status, raw = await post(app, lifespan.state, token, body.encode())
                response = orjson.loads(raw)
                if status != 200 or "errors" in response:
                    raise SystemExit(f"{name}: HTTP {status} {raw[:500]!r}")
                counts.append(len(statements))
                if not first:
                    first = list(statements)
            out[name] = {"counts": counts, "statements": first}
    return out


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    result = asyncio.run(measure(orjson.loads(source.read_bytes())))
    target.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
