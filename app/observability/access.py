"""One GraphQL request as the operators see it: the access line, the request metrics and
the request's span.

``Observed`` wraps the endpoint (app.edge.pipeline.graphql_endpoint): it makes the
request's record current (``logs.REQUEST``, which puts the request id on every line
logged while the request runs); the pipeline tells the record what it learns
(``identified``, ``executing``, ``answered``) and the SQL statement listener counts
statements into it. When the request ends its span ends (tracing on) and the record
keeps the outcome: ``flush`` writes the access lines and observes the metrics of the
requests that ended, in batches, at most ``FLUSH_SECONDS`` later.

Operation names label the metrics: the names of the trusted documents
(app/edge/trusted_documents.json, handed in by the gateway: ``label_operations``) as
they are, any other name as itself until ``OTHER_NAMES_CAP`` distinct ones were seen by
this process, then ``other``; ``anonymous`` for an operation without a name.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextvars import Context, ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.observability import logs, metrics, tracing

OTHER_NAMES_CAP = 100
FLUSH_SECONDS = 0.05  # how long an access line may wait to be written
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class Observed:
    """The record of the request being answered (a context manager around it); once
    the request ended, the access line's fields until the next ``flush``."""

    __slots__ = (
        "_span",
        "_started",
        "_token",
        "at",
        "body",
        "context",
        "cost_actual",
        "cost_requested",
        "errors",
        "headers",
        "operation",
        "principal",
        "principal_id",
        "request_id",
        "seconds",
        "statements",
        "status",
        "workspace",
    )
    # Set when the request ends (``_finish``).
    errors: list[str]
    cost_requested: int | None
    cost_actual: int | None
    workspace: int | None
    seconds: float
    at: float  # time.time()

    def __init__(self, request_id: str, headers: Any) -> None:
        self.request_id = request_id
        self.headers = headers
        self.operation: str | None = None
        self.principal = "anonymous"
        self.principal_id: int | None = None
        self.context: Any = None  # app.graphql.context.Context, once execution starts
        self.body: dict[str, Any] | None = None
        self.statements = 0
        self.status = 500  # until the endpoint says otherwise (it raised)

    def __enter__(self) -> Observed:
        # The request id reaches every line logged meanwhile through ``_CURRENT``
        # (logs.REQUEST: a processor reads it), with no binding of its own to undo.
        self._token = _CURRENT.set(self)
        self._span = tracing.start_request(self.headers)
        self._started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        try:
            _finish(self, time.perf_counter() - self._started)
        finally:
            _CURRENT.reset(self._token)


_CURRENT: ContextVar[Any] = logs.REQUEST


def identified(viewer: Any, prepared: Any, operation_name: str | None) -> None:
    """The request's principal (after authentication) and the operation it runs (its
    name in the document, or the one the request gave)."""
    record = _CURRENT.get()
    if record is not None:
        chosen = prepared.operation
        name = chosen.name if chosen is not None else None
        record.operation = name.value if name is not None else operation_name
        if viewer.api_key_id is not None:
            record.principal, record.principal_id = "api_key", viewer.api_key_id
        else:
            record.principal, record.principal_id = "user", viewer.user_id


def executing(context: Any) -> None:
    """The request's GraphQL context (which workspace the operation targeted)."""
    record = _CURRENT.get()
    if record is not None:
        record.context = context


def answered(body: dict[str, Any]) -> None:
    """The answer's body as built (its errors' codes and ``extensions.cost``)."""
    record = _CURRENT.get()
    if record is not None:
        record.body = body


def _count_statement(*_: Any) -> None:
    record = _CURRENT.get()
    if record is not None:
        record.statements += 1


def count_statements(engine: AsyncEngine) -> None:
    """Count ``engine``'s statements into the current request (once per engine)."""
    sync = engine.sync_engine
    if not event.contains(sync, "before_cursor_execute", _count_statement):
        event.listen(sync, "before_cursor_execute", _count_statement)


def instrument(engine: AsyncEngine) -> None:
    """Count ``engine``'s statements into the current request (and trace them when on)."""
    count_statements(engine)
    tracing.instrument(engine)


def _codes(body: dict[str, Any] | None, status: int) -> list[str]:
    errors = body.get("errors") if body is not None else None
    if not errors:  # a 500 answers without telling the record (its body is fixed)
        return ["INTERNAL_SERVER_ERROR"] if status >= 500 else []
    return list(dict.fromkeys(str((e.get("extensions") or {}).get("code")) for e in errors))


def _outcome(status: int, codes: list[str]) -> str:
    if status >= 500:
        return "failed"
    if status >= 400:
        return "refused"
    return "error" if codes else "ok"


def _finish(record: Observed, seconds: float) -> None:
    """The request's outcome, kept for the next ``flush`` (its span ends now). The
    record lets go of the request's body and context: it keeps what the line says."""
    status, body, context = record.status, record.body, record.context
    record.errors = _codes(body, status)
    cost = ((body.get("extensions") or {}).get("cost") or {}) if body is not None else {}
    record.cost_requested = cost.get("requestedQueryCost")
    record.cost_actual = cost.get("actualQueryCost")
    record.workspace = context.targeted_workspace() if context is not None else None
    record.body = record.context = record.headers = None
    record.seconds, record.at = seconds, time.time()
    if not _pending:
        asyncio.get_running_loop().call_later(FLUSH_SECONDS, flush, context=Context())
    _pending.append(record)
    if record._span is not None:
        tracing.end_request(
            record._span,
            f"graphql {record.operation or 'anonymous'}",
            {
                "harmony.request_id": record.request_id,
                "graphql.operation.name": record.operation,
                "harmony.principal": record.principal,
                "harmony.principal_id": record.principal_id,
                "harmony.workspace": record.workspace,
                "http.response.status_code": status,
                "harmony.errors": record.errors,
                "harmony.cost.requested": record.cost_requested,
                "harmony.cost.actual": record.cost_actual,
                "db.statement_count": record.statements,
                "harmony.outcome": _outcome(status, record.errors),
            },
        )


_pending: list[Observed] = []
_points_charged = 0  # rate-limit points charged since the last flush


def charged(points: int) -> None:
    """Points taken from a rate-limit bucket (counted at the next ``flush``: in the
    multiprocess mode each increment of a counter is a write to its shared file)."""
    global _points_charged
    _points_charged += points


def flush() -> None:
    """Write the access lines and observe the metrics of the requests that ended since
    the last flush. Done in batches (every ``FLUSH_SECONDS``, before a scrape, at
    shutdown) rather than per request: the same work in a tight loop costs a fraction
    of what it costs spread over requests (docs/observability.md: Cost)."""
    global _points_charged
    batch = _pending[:]
    _pending.clear()
    if _points_charged:
        metrics.COST_SPENT.inc(_points_charged)
        _points_charged = 0
    line = logs.access_line
    ended: dict[Any, int] = {}  # requests counter (labelled) -> requests of the batch
    codes: dict[str, int] = {}  # error code -> answers of the batch carrying it
    for record in batch:
        line(
            {
                "request_id": record.request_id,
                "operation": record.operation,
                "principal": record.principal,
                "principal_id": record.principal_id,
                "workspace": record.workspace,
                "status": record.status,
                "errors": record.errors,
                "cost_requested": record.cost_requested,
                "cost_actual": record.cost_actual,
                "statements": record.statements,
                "duration_ms": round(record.seconds * 1000, 2),
            },
            record.at,
        )
        errors = record.errors
        requests, duration = _children(_label(record.operation), _outcome(record.status, errors))
        ended[requests] = ended.get(requests, 0) + 1
        duration.observe(record.seconds)
        metrics.SQL_STATEMENTS.observe(record.statements)
        for code in errors:
            codes[code] = codes.get(code, 0) + 1
    # One write per label per batch, not one per request.
    for requests, count in ended.items():
        requests.inc(count)
    for code, count in codes.items():
        metrics.ERRORS.labels(code).inc(count)
    logs.flush_access()


class OperationLabels:
    """Operation names as metric labels, at most ``cap`` of them besides the trusted ones."""

    def __init__(self, trusted: frozenset[str], cap: int = OTHER_NAMES_CAP) -> None:
        self.trusted = trusted
        self.cap = cap
        self.others: set[str] = set()

    def __call__(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        if name in self.others or name in self.trusted:
            return name
        if len(self.others) < self.cap and _NAME.fullmatch(name):
            self.others.add(name)
            return name
        return "other"


_labels: OperationLabels | None = None
_children_cache: dict[tuple[str, str], tuple[Any, Any]] = {}


def label_operations(trusted: frozenset[str]) -> None:
    """Label the metrics of the trusted documents' operations by their names (the
    gateway passes them when it starts: app.edge.persisted.trusted_operation_names)."""
    global _labels
    if _labels is None or _labels.trusted != trusted:
        _labels = OperationLabels(trusted)


def _label(name: str | None) -> str:
    if _labels is None:
        label_operations(frozenset())
    assert _labels is not None
    return _labels(name)


def _children(label: str, outcome: str) -> tuple[Any, Any]:
    """The labelled counter and histogram (prometheus-client looks them up under a lock)."""
    key = (label, outcome)
    found = _children_cache.get(key)
    if found is None:
        found = _children_cache[key] = (
            metrics.REQUESTS.labels(label, outcome),
            metrics.REQUEST_DURATION.labels(label, outcome),
        )
    return found
