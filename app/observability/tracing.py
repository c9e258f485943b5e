"""OpenTelemetry traces, on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (OTLP over HTTP).

A GraphQL request is a server span (app.observability.access: the access line's fields
as attributes, continuing the caller's ``traceparent``), each root field a span of its
own (``TracedExecutionContext``), and each SQL statement a client span under whichever
of them sent it: SQLAlchemy's statements and the prepared reads (app.db.prepared runs
those on the driver but dispatches the engine's statement events).

Off (the default), nothing here runs per request: the statement listeners are added to
an engine only while a tracer is installed, and the executor is graphql-core's usual.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from graphql.pyutils import is_awaitable
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.graphql.runtime import ExecutionContextBase
from app.graphql.runtime.executor import GatewayExecutionContext

TRACER: trace.Tracer | None = None
_provider: TracerProvider | None = None
# The statement span in flight in this task (a statement runs before → after, in one task).
_STATEMENT: ContextVar[Span | None] = ContextVar("harmony_sql_span", default=None)


def configure_tracing(settings: Settings) -> None:
    """Export to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (its ``/v1/traces``), in batches."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert settings.otel_exporter_otlp_endpoint
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    install(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)), settings.otel_service_name)


def install(processor: SpanProcessor, service_name: str = "harmony-gateway") -> None:
    """Trace through ``processor`` from now on (tests pass the SDK's in-memory exporter)."""
    global TRACER, _provider
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(processor)
    _provider, TRACER = provider, provider.get_tracer("app")


def shutdown() -> None:
    """Export what is pending and stop tracing."""
    global TRACER, _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = TRACER = None


def instrument(engine: AsyncEngine) -> None:
    """A span per statement of ``engine``, while tracing is on."""
    if TRACER is None:
        return
    sync = engine.sync_engine
    for name, listener in (
        ("before_cursor_execute", _statement_starts),
        ("after_cursor_execute", _statement_ends),
        ("handle_error", _statement_fails),
    ):
        if not event.contains(sync, name, listener):
            event.listen(sync, name, listener)


def _statement_starts(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    tracer = TRACER
    if tracer is None:
        return
    _end_unfinished()  # a prepared read that raised has no "after" event
    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    span = tracer.start_span(
        verb,
        kind=SpanKind.CLIENT,
        attributes={"db.system": conn.dialect.name, "db.statement": statement},
    )
    _STATEMENT.set(span)


def _statement_ends(*_: Any) -> None:
    span = _STATEMENT.get()
    if span is not None:
        span.end()
        _STATEMENT.set(None)


def _statement_fails(context: Any) -> None:
    span = _STATEMENT.get()
    if span is not None:
        span.record_exception(context.original_exception)
        span.set_status(Status(StatusCode.ERROR))
        span.end()
        _STATEMENT.set(None)


def _end_unfinished() -> None:
    span = _STATEMENT.get()
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, "the statement did not complete"))
        span.end()
        _STATEMENT.set(None)


def start_request(headers: Any) -> tuple[Span, object] | None:
    """The request's span, current until ``end_request`` (None: tracing is off)."""
    tracer = TRACER
    if tracer is None:
        return None
    span = tracer.start_span("graphql", context=extract(headers), kind=SpanKind.SERVER)
    return span, otel_context.attach(trace.set_span_in_context(span))


def end_request(started: tuple[Span, object], name: str, attributes: dict[str, Any]) -> None:
    span, token = started
    _end_unfinished()
    otel_context.detach(token)  # type: ignore[arg-type]
    span.update_name(name)
    span.set_attributes({k: v for k, v in attributes.items() if v is not None})
    if attributes.get("http.response.status_code", 0) >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


class RootFieldSpans(ExecutionContextBase):
    """A span per root field (``Query.workspace``); the statements its resolvers and
    their loader batches send are its children."""

    def execute_field(
        self, parent_type: Any, source: Any, fields: Any, path: Any, *rest: Any
    ) -> Any:
        tracer = TRACER
        if path.prev is not None or tracer is None:
            return super().execute_field(parent_type, source, fields, path, *rest)
        span = tracer.start_span(f"{parent_type.name}.{fields[0].node.name.value}")
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            result = super().execute_field(parent_type, source, fields, path, *rest)
        except BaseException:
            span.end()
            raise
        finally:
            otel_context.detach(token)
        if not is_awaitable(result):
            span.end()
            return result
        return _ended_after(result, span)


async def _ended_after(awaitable: Any, span: Span) -> Any:
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        return await awaitable
    finally:
        otel_context.detach(token)
        span.end()


class TracedExecutionContext(RootFieldSpans, GatewayExecutionContext):
    """The gateway's executor, traced."""


class TracedStockExecutionContext(RootFieldSpans):
    """Strawberry's own executor (``FAST_PATHS=false``), traced."""


def execution_context(fast: bool = True) -> type[ExecutionContextBase]:
    """The executor ``app.edge.operation.run`` uses: the gateway's, or with
    ``FAST_PATHS=false`` the one Strawberry's ``Schema.execute`` uses."""
    if TRACER is None:
        return GatewayExecutionContext if fast else ExecutionContextBase
    return TracedExecutionContext if fast else TracedStockExecutionContext
