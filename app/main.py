"""The ASGI application: routes, lifespan (engine, sessionmaker), the GraphQL endpoint.

Request path: HTTP → parse body → authenticate (app.auth) → Context (app.graphql.context)
→ app.graphql.operation (cached parse + validation, graphql-core execution with the
schema's execution context: resolvers → loaders → repositories) → one commit/rollback
→ JSON.

Authentication runs on the request's own session (``RequestDB``) and enters the tenant
context there: from then on, on PostgreSQL, every transaction of the request reads and
writes only the viewer's workspaces (row-level security, app.db.tenant).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from app.auth.authenticate import AuthenticationError, authenticate
from app.config import Settings, get_settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.session import RequestDB
from app.graphql import operation
from app.graphql.context import Context
from app.graphql.schema import format_error

log = logging.getLogger("app.http")

MAX_BODY_BYTES = 1_000_000
GC_YOUNG_THRESHOLD = 20_000  # CPython's default is 700


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _error(message: str, code: str, status: int = 200) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status
    )


class Gateway:
    """What the app holds for its lifetime."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        # Bounded concurrency keeps the tail short under overload (see docs/performance.md).
        self.in_flight = (
            asyncio.Semaphore(settings.max_in_flight)
            if settings.max_in_flight
            else contextlib.nullcontext()
        )


# Request ids: a random prefix per process and a counter (unique without a random draw
# per request).
_ID_PREFIX = uuid.uuid4().hex[:12]
_ID_COUNTER = itertools.count(1)


def next_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def _read_params(request: Request) -> dict[str, Any] | JSONResponse:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if "variables" in params:
            try:
                params["variables"] = orjson.loads(params["variables"])
            except orjson.JSONDecodeError:
                return _error("`variables` is not valid JSON.", "BAD_USER_INPUT", 400)
        return params
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return _error("The request body is too large.", "BAD_USER_INPUT", 413)
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error("The request body is not valid JSON.", "BAD_USER_INPUT", 400)
    if not isinstance(params, dict):
        return _error("The request body must be a JSON object.", "BAD_USER_INPUT", 400)
    return params


async def graphql_endpoint(request: Request) -> Response:
    gateway = _gateway(request)
    if request.method == "GET" and "query" not in request.query_params:
        if gateway.settings.graphiql_enabled and "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(get_graphql_ide_html())
        return _error("Send a query (POST application/json).", "BAD_USER_INPUT", 400)

    params = await _read_params(request)
    if isinstance(params, JSONResponse):
        return params
    query, variables, operation_name = (
        params.get(k) for k in ("query", "variables", "operationName")
    )
    if not isinstance(query, str) or not query.strip():
        return _error("`query` must be a non-empty string.", "BAD_USER_INPUT", 400)
    if variables is not None and not isinstance(variables, dict):
        return _error("`variables` must be a JSON object.", "BAD_USER_INPUT", 400)
    if operation_name is not None and not isinstance(operation_name, str):
        return _error("`operationName` must be a string.", "BAD_USER_INPUT", 400)

    request_id = request.headers.get("x-request-id", "")[:64] or next_request_id()
    db = RequestDB(gateway.sessionmaker)
    try:
        async with gateway.in_flight:
            response = await _execute(request, gateway, db, params, request_id)
            await db.finish(commit=True)
    except Exception:
        log.exception("request %s failed", request_id)
        await db.finish(commit=False)
        response = _error("Internal server error.", "INTERNAL_SERVER_ERROR", 500)
    response.headers["x-request-id"] = request_id
    return response


async def _execute(
    request: Request, gateway: Gateway, db: RequestDB, params: dict[str, Any], request_id: str
) -> JSONResponse:
    operation_name = params.get("operationName")
    prepared = operation.prepare(params["query"], operation_name)
    try:
        # Also sets db.tenant: the workspaces every transaction of this request may see.
        viewer = await authenticate(
            db,
            gateway.settings,
            request.headers.get("authorization"),
            with_memberships=prepared.needs_workspaces,
        )
    except AuthenticationError as exc:
        return _error(str(exc), "UNAUTHENTICATED")
    if prepared.document is not None:
        if operation_name is None and len(prepared.operation_names) > 1:
            return _error(
                "The document has several operations: say which one to run in `operationName`.",
                "BAD_USER_INPUT",
            )
        if not prepared.operation_names:
            return _error("The document has no operation to run.", "BAD_USER_INPUT")
        if prepared.operation is None:
            return _error(f'Unknown operation named "{operation_name}".', "BAD_USER_INPUT")
        if prepared.is_mutation and request.method == "GET":
            return _error("Mutations are only accepted over POST.", "BAD_USER_INPUT", 405)
    if prepared.errors:
        return JSONResponse({"errors": [format_error(e) for e in prepared.errors], "data": None})
    context = Context.create(db, viewer, gateway.settings, request_id)
    result = await operation.run(prepared, context, params.get("variables"), operation_name)
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [format_error(e) for e in result.errors]
    payload["data"] = result.data
    return JSONResponse(payload)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        async with _gateway(request).engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        log.warning("readiness check failed", exc_info=True)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def freeze_startup_objects() -> None:
    """Keep what exists at startup (the schema, SQLAlchemy's and Strawberry's type
    graphs: hundreds of thousands of objects) out of the garbage collector's scans.

    A request allocates many short-lived objects; each time enough accumulate the
    collector runs, and every third-generation run walked the whole startup graph again:
    profiles showed it as a tenth of a small request's CPU, charged to whatever
    allocated last. ``gc.freeze`` moves the objects alive now into a permanent
    generation (CPython's advice for pre-fork servers); the young-generation threshold
    is raised so collections run less often. Reference counting still frees almost
    everything; only cycles wait for the collector.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = engine is None
        app.state.gateway = Gateway(settings, engine or create_engine(settings))
        if owned:  # a server process of its own (tests pass their engine and skip this)
            freeze_startup_objects()
        try:
            yield
        finally:
            if owned:
                await app.state.gateway.engine.dispose()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            )
        )
    return Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
