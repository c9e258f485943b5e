"""The ASGI application: routes, lifespan (engine, sessionmaker, the edge's state).

The GraphQL endpoint and the order of its checks are app.edge.pipeline's: method,
content type and body size → credentials → admission (bounded queue) → under the
request deadline: authentication (app.edge.authenticate), which also enters the tenant
context on PostgreSQL → parse and static limits (app.edge.operation, app.edge.analysis) → cost
and the rate-limit charge (app.edge.ratelimit) → validation → execution → one commit.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.config import Settings, get_settings
from app.db.engine import create_engine, create_sessionmaker
from app.db.failures import classify
from app.edge.admission import Admission
from app.edge.authenticate import SignIns
from app.edge.idempotency import IdempotencyStore, create_idempotency_store
from app.edge.operation import Documents
from app.edge.persisted import PersistedStore, create_persisted_store, trusted_operation_names
from app.edge.pipeline import JSONResponse, graphql_endpoint
from app.edge.ratelimit import PenaltyBox, RateLimiter, create_rate_limiter
from app.edge.request_ids import EndpointFirst, RequestIds
from app.graphiql.page import static_mount
from app.observability import access, metrics, tracing
from app.observability.logs import configure_logging
from app.webhooks.worker import DeliveryWorker

log = logging.getLogger("app.http")

GC_YOUNG_THRESHOLD = 20_000  # CPython's default is 700


class Gateway:
    """What the app holds for its lifetime (one per worker process)."""

    def __init__(self, settings: Settings, engine: AsyncEngine) -> None:
        self.settings = settings
        self.engine = engine
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(engine)
        self.documents = Documents(settings)
        # Bounded concurrency keeps the tail short under overload (see docs/performance.md).
        self.admission = Admission(settings.max_in_flight, settings.max_queued)
        self.rate_limiter: RateLimiter = create_rate_limiter(settings)
        self.penalty_box = PenaltyBox()
        self.sign_ins = SignIns()  # remembered sign-ins (app.edge.authenticate)
        self.persisted: PersistedStore = create_persisted_store(settings)
        self.idempotency: IdempotencyStore = create_idempotency_store(settings)
        access.instrument(engine)  # statement counts (and spans, when tracing)
        access.label_operations(trusted_operation_names())

    async def close(self) -> None:
        await self.rate_limiter.close()
        await self.persisted.close()
        await self.idempotency.close()


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def metrics_endpoint(request: Request) -> Response:
    gateway = _gateway(request)
    access.flush()  # this process's requests up to now
    metrics.sample(gateway.engine, gateway.admission)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


READY_TIMEOUT_SECONDS = 2.0
_checks: set[asyncio.Task[None]] = set()


async def readyz(request: Request) -> Response:
    """Ready when the database answers ``SELECT 1`` within 2 s. A check that takes longer
    is answered 503 at once and left to finish in the background (giving a connection
    back waits for the server, and the driver's command timeout bounds that wait)."""
    check = asyncio.create_task(_select_one(_gateway(request).engine))
    _checks.add(check)
    check.add_done_callback(_forget)
    done, _ = await asyncio.wait({check}, timeout=READY_TIMEOUT_SECONDS)
    error = check.exception() if done else None
    if done and error is None:
        return JSONResponse({"status": "ok"})
    if not done:
        check.cancel()
        reason = f"the database did not answer within {READY_TIMEOUT_SECONDS:g} s"
    elif (failure := classify(error)) is not None:
        reason = failure.reason
    else:  # not the database's availability: worth a traceback
        log.warning("readiness check failed", exc_info=error)
        reason = type(error).__name__
    log.warning("not ready: %s", reason)
    return JSONResponse({"status": "unavailable", "reason": reason}, status_code=503)


def _forget(check: asyncio.Task[None]) -> None:
    _checks.discard(check)
    if not check.cancelled():
        check.exception()  # retrieved: a late failure is no "never retrieved" warning


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        try:
            await conn.execute(text("SELECT 1"))
        except asyncio.CancelledError:
            await conn.invalidate()  # cut off midway: not given back to the pool
            raise


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


def serve_app() -> Starlette:
    """What ``python -m app serve`` runs in each worker process: logging first."""
    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = engine is None
        traced = bool(settings.otel_exporter_otlp_endpoint)
        if traced:
            tracing.configure_tracing(settings)
        gateway = app.state.gateway = Gateway(settings, engine or create_engine(settings))
        sampler = asyncio.get_running_loop().create_task(
            metrics.sample_forever(gateway.engine, gateway.admission)
        )
        # Webhook deliveries from this process (WEBHOOKS_IN_PROCESS; docs/scaling.md).
        stop = asyncio.Event()
        webhooks = (
            DeliveryWorker(gateway.engine, settings) if settings.webhooks_in_process else None
        )
        delivering = (
            asyncio.get_running_loop().create_task(webhooks.run(stop)) if webhooks else None
        )
        if owned:  # a server process of its own (tests pass their engine and skip this)
            freeze_startup_objects()
        try:
            yield
        finally:
            stop.set()  # the attempts under way finish (each bounded by its timeout)
            if delivering is not None and webhooks is not None:
                await delivering
                await webhooks.close()
            sampler.cancel()
            access.flush()
            await gateway.close()
            if owned:
                await gateway.engine.dispose()
            metrics.process_ended()
            if traced:
                tracing.shutdown()

    middleware = [Middleware(RequestIds)]  # outermost: CORS answers carry one too
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=["X-Request-Id", "Retry-After"],
            )
        )
    middleware.append(Middleware(EndpointFirst))  # innermost
    return Starlette(
        routes=[
            Route("/graphql", graphql_endpoint, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            *([static_mount()] if settings.graphiql_enabled else []),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
