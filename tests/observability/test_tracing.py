"""OpenTelemetry: with a tracer installed (the SDK's in-memory exporter here; OTLP over
HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set), a request is a server span with the
access line's attributes, each root field a span, each SQL statement a span under them."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.config import Settings
from app.observability import tracing
from tests import factories as f
from tests.edge.asgi_edge import recorded
from tests.observability.conftest import Serve

MEMBERS = 'query Members { workspace(slug: "acme") { name members(first: 5) { nodes { user { email } role { name } } } } viewer { email } }'  # fmt: skip


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.shutdown()


def children(of: ReadableSpan, among: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    assert of.context is not None
    return [s for s in among if s.parent is not None and s.parent.span_id == of.context.span_id]


async def test_a_request_is_a_span_with_its_root_fields_and_sql_statements(
    spans: InMemorySpanExporter,
    serve: Serve,
    engine: AsyncEngine,
    session: AsyncSession,
    settings: Settings,
) -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with serve() as client:
        token = await client.token("ada@acme.test")
        with recorded(engine) as statements:
            response = await client.http.post(
                "/graphql",
                json={"query": MEMBERS},
                headers={"Authorization": f"Bearer {token}", "traceparent": traceparent},
            )
    assert response.status_code == 200 and "errors" not in response.json()
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.kind == SpanKind.SERVER]
    assert request.name == "graphql Members"
    assert request.context is not None and request.parent is not None
    # The caller's trace continues.
    assert f"{request.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{request.parent.span_id:016x}" == "b7ad6b7169203331"
    assert request.status.status_code == StatusCode.UNSET
    cost = response.json()["extensions"]["cost"]
    assert dict(request.attributes or {}) == {
        "harmony.request_id": response.headers["x-request-id"],
        "graphql.operation.name": "Members",
        "harmony.principal": "user",
        "harmony.principal_id": await f.user_id(session, "ada@acme.test"),
        "harmony.workspace": await f.workspace_id(session, "acme"),
        "http.response.status_code": 200,
        "harmony.errors": (),
        "harmony.cost.requested": cost["requestedQueryCost"],
        "harmony.cost.actual": cost["actualQueryCost"],
        "db.statement_count": len(statements),
        "harmony.outcome": "ok",
    }

    trace_id = request.context.trace_id
    sql = [
        s
        for s in finished
        if s.kind == SpanKind.CLIENT and s.context and s.context.trace_id == trace_id
    ]
    assert [s.attributes["db.statement"] for s in sql if s.attributes] == statements
    dialect = "sqlite" if settings.is_sqlite else "postgresql"
    assert {s.attributes["db.system"] for s in sql if s.attributes} == {dialect}
    fields = {s.name: s for s in children(request, finished) if s.kind == SpanKind.INTERNAL}
    assert sorted(fields) == ["Query.viewer", "Query.workspace"]
    # The workspace's statements (its members page) are the root field's children.
    under_workspace = children(fields["Query.workspace"], finished)
    assert under_workspace and all(s.kind == SpanKind.CLIENT for s in under_workspace)
    assert all(s.end_time is not None for s in finished)


async def test_a_failing_request_span_says_so(spans: InMemorySpanExporter, serve: Serve) -> None:
    async with serve() as client:
        response = await client.http.post("/graphql", json={"query": "{ viewer { email } }"})
    assert response.status_code == 401
    [request] = spans.get_finished_spans()
    assert request.name == "graphql anonymous"
    assert (request.attributes or {})["harmony.errors"] == ("UNAUTHENTICATED",)
    assert (request.attributes or {})["harmony.outcome"] == "refused"


async def test_without_a_tracer_the_engine_gets_no_span_listeners(
    serve: Serve, engine: AsyncEngine
) -> None:
    from sqlalchemy import event

    async with serve():
        assert not event.contains(
            engine.sync_engine, "after_cursor_execute", tracing._statement_ends
        )
    assert tracing.execution_context() is not tracing.TracedExecutionContext


async def test_with_an_otlp_endpoint_the_spans_reach_the_collector(serve: Serve) -> None:
    received: list[tuple[str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(b"")

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        async with serve(
            otel_exporter_otlp_endpoint=endpoint, otel_service_name="gw-test"
        ) as client:
            token = await client.token("ada@acme.test")
            assert (
                await client.post(
                    'query AcmeName { workspace(slug: "acme") { name } }', token=token
                )
            ).status_code == 200
        # The lifespan's end flushed the batch and stopped tracing.
        assert tracing.TRACER is None
    finally:
        server.shutdown()
        server.server_close()
    assert received and {path for path, _ in received} == {"/v1/traces"}
    names, services = set(), set()
    for _, body in received:
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                names.update(span.name for span in scope.spans)
    assert services == {"gw-test"}
    assert {"graphql AcmeName", "Query.workspace", "SELECT"} <= names
