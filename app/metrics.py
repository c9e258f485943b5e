"""Prometheus metrics of the gateway (``GET /metrics``).

Defined once here; the code that observes an event increments the metric. With several
worker processes set ``PROMETHEUS_MULTIPROC_DIR`` to an empty writable directory: each
process then writes its samples there and ``/metrics`` aggregates them.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)

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
TIMEOUTS = Counter("harmony_request_timeouts_total", "Requests cancelled at their deadline.")


def render() -> tuple[bytes, str]:
    """The exposition text of this process, or of every worker in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
