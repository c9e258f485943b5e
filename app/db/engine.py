"""Engine and session factory: one per process, created in the app lifespan.

Every wait on the database is bounded, none beyond the request's deadline
(``REQUEST_TIMEOUT_SECONDS``, app.edge.pipeline), which answers whatever else happens:

- opening a connection: ``DB_CONNECT_TIMEOUT_SECONDS``, then ``SERVICE_UNAVAILABLE``;
- waiting for a pooled connection: ``DB_POOL_TIMEOUT_SECONDS``, then ``SERVICE_UNAVAILABLE``;
- a statement, on the server: ``DB_STATEMENT_TIMEOUT_MS``, then ``TIMEOUT``;
- a statement, in the driver (asyncpg's command timeout): a second more, for a server
  that stopped answering at all (it bounds what runs outside a request: the rollback
  after a deadline, ``/readyz``'s background check, the CLI).

A connection the server has ended is not handed out again: the pool checks each one at
checkout (asyncpg's ``is_closed()``, no round trip) and opens a new one instead, so the
gateway recovers by itself once the database is back (app.db.failures).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings
from app.db.failures import DatabaseUnavailable
from app.db.lane import keep_idle_connections, lane_size
from app.db.tenant import CONTEXT_KEY_OPTION, TenantSession, context_key


def is_sqlite_url(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    url = url or settings.database_url
    # The key that signs the tenant context travels with the engine (app.db.tenant).
    options = {CONTEXT_KEY_OPTION: context_key(settings.secret)}
    if is_sqlite_url(url):
        # A statement waiting for SQLite's write lock runs in a thread that cancellation
        # cannot stop: it gives up by itself before the request's deadline.
        busy = min(settings.db_pool_timeout_seconds, settings.request_timeout_seconds)
        engine = _create_async_engine(
            url, connect_args={"timeout": busy}, execution_options=options
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    server_settings = {"application_name": APPLICATION_NAME}
    command_timeout = None
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
        command_timeout = settings.db_statement_timeout_ms / 1000 + DRIVER_MARGIN_SECONDS
    deadline = settings.request_timeout_seconds
    engine = _create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=min(settings.db_pool_timeout_seconds, deadline),
        # Connections are recycled by the pool, never per request.
        pool_recycle=3600,
        execution_options=options,
        # json values (JSON columns, nested lists: app.db.prepared.Nested) decoded by orjson
        json_deserializer=orjson.loads,
        connect_args={
            "timeout": min(settings.db_connect_timeout_seconds, deadline),
            "command_timeout": command_timeout,
            "server_settings": server_settings,
        },
    )
    event.listen(engine.sync_engine, "do_connect", _connect)
    event.listen(engine.sync_engine.pool, "checkout", refuse_closed_connection)
    keep_idle_connections(
        engine,
        lane_size(settings.db_pool_size, settings.db_max_overflow, settings.max_in_flight),
    )
    return engine


APPLICATION_NAME = "harmony-gateway"  # pg_stat_activity.application_name
DRIVER_MARGIN_SECONDS = 1.0


def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    """Open a connection, with a typed error when the server does not answer in time
    (asyncpg raises a bare ``TimeoutError``, which would read as the request's deadline)."""
    try:
        return dialect.connect(*cargs, **cparams)
    except TimeoutError as error:
        raise DatabaseUnavailable("the database did not answer the connection in time") from error


def refuse_closed_connection(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection the server has ended (a restart, a failover, a pooler restart,
    an idle timeout) is replaced before anything runs on it: the pool opens a new one."""
    if record.driver_connection.is_closed():
        raise exc.DisconnectionError("the server closed this pooled connection")


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects returned by a mutation stay readable after commit.
    # TenantSession: on PostgreSQL every transaction starts by setting the tenant context
    # (row-level security), empty unless authentication filled it (app.db.tenant).
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=TenantSession
    )
