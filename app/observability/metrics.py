"""Prometheus metrics of the gateway (``GET /metrics``).

Defined once here; the code that observes an event increments the metric. With several
worker processes ``PROMETHEUS_MULTIPROC_DIR`` names a writable directory the processes
share (``python -m app serve`` makes one when it starts several workers and none is
set): each process writes its samples there and ``/metrics`` aggregates them. Gauges
are sums over the live processes (``livesum``); a process that ends cleanly removes its
own (docs/observability.md).

Per request the code observes a handful of values (app.observability.access); the
gauges of the pool and the admission queue are sampled once a second per process and
at each scrape, never on the request path.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.driver import pool_waiting
from app.db.lane import lane_of

EDGE_REFUSALS = Counter(
    "harmony_edge_refusals_total",
    "Requests refused at the edge before execution, by error code.",
    ["code"],
)
RATE_LIMITED = Counter(
    "harmony_rate_limited_total", "Operations refused because the principal's bucket was short."
)
COST_SPENT = Counter("harmony_query_cost_spent_total", "Points charged to rate-limit buckets.")
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "harmony_rate_limit_backend_errors_total",
    "Shared-state (Redis) calls that failed or timed out; the in-process fallback answered.",
    ["operation"],
)
LOAD_SHED = Counter(
    "harmony_load_shed_total", "Requests answered 503 at once because the queue was full."
)
IDEMPOTENT_REPLAYS = Counter(
    "harmony_idempotent_replays_total",
    "Mutations answered from their Idempotency-Key's first answer instead of running again.",
)
TIMEOUTS = Counter("harmony_request_timeouts_total", "Requests cancelled at their deadline.")
SIGN_INS_CHANGED = Counter(
    "harmony_remembered_sign_ins_changed_total",
    "Queries run again because the account's sign-in changed since the worker remembered it.",
)

REQUESTS = Counter(
    "harmony_graphql_requests_total",
    "GraphQL requests answered, by operation name and outcome (ok, error, refused, failed).",
    ["operation", "outcome"],
)
REQUEST_DURATION = Histogram(
    "harmony_graphql_request_duration_seconds",
    "Time from the request's arrival at the endpoint to its answer, by operation and outcome.",
    ["operation", "outcome"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter(
    "harmony_graphql_errors_total",
    "GraphQL answers carrying an error of this code (once per answer and code).",
    ["code"],
)
SQL_STATEMENTS = Histogram(
    "harmony_sql_statements_per_request",
    "SQL statements a GraphQL request sent to the database.",
    buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100),
)
POOL_IN_USE = Gauge(
    "harmony_db_pool_in_use",
    "Database connections checked out of the pool and in use (not those kept idle between reads).",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "harmony_db_pool_waiting",
    "Requests waiting for a database connection from the pool.",
    multiprocess_mode="livesum",
)
IN_FLIGHT = Gauge(
    "harmony_requests_in_flight",
    "GraphQL requests holding an execution slot (MAX_IN_FLIGHT per process).",
    multiprocess_mode="livesum",
)
QUEUED = Gauge(
    "harmony_requests_queued",
    "GraphQL requests waiting for an execution slot (MAX_QUEUED per process).",
    multiprocess_mode="livesum",
)

SAMPLE_SECONDS = 1.0


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of every worker in multiprocess mode."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def sample(engine: AsyncEngine, admission: Any) -> None:
    """Set this process's gauges from the engine's pool and the admission queue."""
    pool, lane = engine.pool, lane_of(engine)
    checkedout = getattr(pool, "checkedout", None)
    in_use = checkedout() if checkedout is not None else 0
    POOL_IN_USE.set(in_use - (lane.kept if lane else 0))
    POOL_WAITING.set(pool_waiting(pool))
    IN_FLIGHT.set(admission.running)
    QUEUED.set(admission.waiting)


async def sample_forever(engine: AsyncEngine, admission: Any) -> None:
    """The lifespan's task: the gauges stay current in every worker, busy or idle."""
    while True:
        sample(engine, admission)
        await asyncio.sleep(SAMPLE_SECONDS)


def process_ended() -> None:
    """A worker that stops drops its live gauges from the shared directory."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
