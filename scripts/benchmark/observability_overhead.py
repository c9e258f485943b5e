"""CPU per GraphQL request with the gateway's observation on and off, in one process.

The gateway's ASGI app is called directly (no HTTP server, no client library) over a
database the tests' demo data fills (``DATABASE_URL``; on PostgreSQL, e.g. a database
built by ``tests.conftest.build_database``). Logging is configured as ``serve``
configures it (JSON lines, here to a temporary file). Batches of requests alternate between the
real ``app.observability.access.Observed`` and one that does nothing (no access line,
no request metrics, no statement count), so that both see the same machine load; the
figure is the difference of the medians of CPU time per request.

    DATABASE_URL=postgresql+asyncpg://… JWT_SECRET=… \\
        python scripts/benchmark/observability_overhead.py [QUERY] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from typing import Any

import orjson

from app.auth.tokens import issue_user_token
from app.config import Settings
from app.main import create_app
from app.observability import access
from app.observability.logs import configure_logging

MEMBERS = 'query Members { workspace(slug: "acme") { members(first: 50) { nodes { id user { id email } role { id name } teams { id } } } } }'  # fmt: skip
BATCH = 250


class Unobserved:
    status = 0

    def __init__(self, *_: Any) -> None:
        pass

    def __enter__(self) -> Unobserved:
        return self

    def __exit__(self, *_: object) -> None:
        pass


async def measure(settings: Settings, query: str, rounds: int) -> dict[str, list[float]]:
    app = create_app(settings)
    body = orjson.dumps({"query": query})
    headers = [
        (b"content-type", b"application/json"),
        (b"authorization", f"Bearer {issue_user_token(settings, 1)}".encode()),
        (b"content-length", str(len(body)).encode()),
    ]

    async def one() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("gateway", 80),
            "app": app,
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Any:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200, message

        await app(scope, receive, send)

    observed = access.Observed
    spent: dict[str, list[float]] = {"on": [], "off": []}
    async with app.router.lifespan_context(app):
        for _ in range(300):
            await one()
        for r in range(rounds):
            for mode in ("on", "off") if r % 2 else ("off", "on"):
                access.Observed = observed if mode == "on" else Unobserved  # type: ignore[misc]
                started = time.process_time()
                for _ in range(BATCH):
                    await one()
                spent[mode].append((time.process_time() - started) / BATCH * 1e6)
    access.Observed = observed  # type: ignore[misc]
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("query", nargs="?", default=MEMBERS)
    parser.add_argument("--rounds", type=int, default=24)
    args = parser.parse_args()
    settings = Settings(
        app_env="production",
        log_format="json",
        rate_limit_points=10**9,
        rate_limit_restore_per_second=1e9,
        max_query_cost=10**6,
    )
    with tempfile.TemporaryFile("w+") as lines:  # the access lines go to a real file
        configure_logging(settings, lines)
        spent = asyncio.run(measure(settings, args.query, args.rounds))
    on, off = statistics.median(spent["on"]), statistics.median(spent["off"])
    print(
        f"CPU per request: {off:.0f} µs unobserved, {on:.0f} µs observed: "
        f"+{on - off:.1f} µs ({(on / off - 1) * 100:.1f} %), medians of {args.rounds} "
        f"batches of {BATCH}"
    )


if __name__ == "__main__":
    main()
