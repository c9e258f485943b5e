"""Engine and session factory: one per process, created in the app lifespan."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from app.config import Settings
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
    server_settings = {"application_name": "harmony-gateway"}
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return _create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # Connections are recycled by the pool, never per request.
        pool_recycle=3600,
        execution_options=options,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            "server_settings": server_settings,
        },
    )


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
