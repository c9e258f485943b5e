"""A short, bounded load run through the gateways of scripts/cluster (docs/scaling.md):
closed-loop clients spread over the given URLs, while the database's connections are
sampled from pg_stat_activity. Loopback addresses only.

    python scripts/cluster_load.py --token T --seconds 10 --clients 16 \\
        http://127.0.0.1:8001/graphql [http://127.0.0.1:8002/graphql …]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections import Counter
from urllib.parse import urlsplit

import asyncpg
import httpx

QUERIES = {
    "viewer": "{ viewer { email workspaces { slug name } } }",
    "members": '{ workspace(slug: "acme") { members(first: 50) { nodes { id user { id } role { id } teams { id } } } } }',
}


async def _sample_connections(dsn: str, database: str, stop: asyncio.Event) -> list[int]:
    conn = await asyncpg.connect(dsn)
    counts: list[int] = []
    try:
        while not stop.is_set():
            counts.append(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = $1 AND application_name = 'harmony-gateway'",
                    database,
                )
            )
            await asyncio.sleep(0.2)
    finally:
        await conn.close()
    return counts


async def run(args: argparse.Namespace) -> None:
    for url in args.urls:
        if urlsplit(url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise SystemExit(f"loopback addresses only: {url}")
    seconds = min(args.seconds, 30.0)
    body = {"query": QUERIES[args.query]}
    headers = {"Authorization": f"Bearer {args.token}"}
    targets = itertools.cycle(args.urls)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_connections(args.dsn, args.database, stop))
    deadline = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await http.post(next(targets), json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1

    limits = httpx.Limits(max_connections=args.clients)
    async with httpx.AsyncClient(timeout=15, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(args.clients)))
    stop.set()
    connections = await sampler
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{len(args.urls)} gateway(s), {args.clients} clients, {args.query}, {seconds:.0f} s: "
        f"{len(latencies) / seconds:.0f} req/s, p50 {quantiles[49] * 1000:.1f} ms, "
        f"p95 {quantiles[94] * 1000:.1f} ms, statuses {dict(statuses)}, "
        f"database connections min {min(connections)} max {max(connections)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--token", required=True)
    parser.add_argument("--query", choices=sorted(QUERIES), default="members")
    parser.add_argument("--seconds", type=float, default=10.0, help="at most 30")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="harmony_cluster")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
