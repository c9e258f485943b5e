"""CPU per request of the gateway's own process, in-process (no HTTP, no load generator):
the quick loop used while optimising. Each workload's requests go through the ASGI app
(``app.main:create_app``, the gateway's environment) ``--rounds`` times, 8 at a time.

    python -m benchmark.inproc RESULTS_DIR/inputs/sqlcount-input.json [--rounds 20] [--only members]

Prints, per workload, the process CPU milliseconds per request (PostgreSQL's own CPU is
not included). Run it with the gateway's environment (``DATABASE_URL`` etc.): see
``benchmark.config.BenchConfig.gateway_env``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import orjson

from benchmark.sqlcount import ASGIApp, Lifespan, post

CONCURRENCY = 8


async def measure(requests: dict[str, list[list[str]]], rounds: int) -> dict[str, float]:
    from app.main import create_app

    app: ASGIApp = create_app()
    out: dict[str, float] = {}
    async with Lifespan(app) as lifespan:
        for name, items in requests.items():
            bodies = [(token, body.encode()) for token, body in items]

            async def one(name: str, token: str, body: bytes) -> None:
                status, raw = await post(app, lifespan.state, token, body)
                if status != 200 or b'"errors"' in raw:
                    raise SystemExit(f"{name}: HTTP {status} {raw[:300]!r}")

            async def run(n: int, name: str, bodies: list[tuple[str, bytes]]) -> None:
                for _ in range(n):
                    for i in range(0, len(bodies), CONCURRENCY):
                        batch = bodies[i : i + CONCURRENCY]
                        await asyncio.gather(*(one(name, t, b) for t, b in batch))

            await run(2, name, bodies)  # warm caches
            start = time.process_time()
            await run(rounds, name, bodies)
            out[name] = (time.process_time() - start) * 1000 / (rounds * len(bodies))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input", type=Path)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    requests: dict[str, Any] = orjson.loads(args.input.read_bytes())
    if args.only:
        keep = set(args.only.split(","))
        requests = {k: v for k, v in requests.items() if k in keep}
    for name, ms in asyncio.run(measure(requests, args.rounds)).items():
        print(f"{name:16s} {ms:6.3f} CPU ms/request")


if __name__ == "__main__":
    main()
