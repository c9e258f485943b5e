"""Database failures, typed: the one place that says what an exception from the database
means for the client (docs/limits.md, "When the database fails").

- ``SERVICE_UNAVAILABLE`` (HTTP 503, ``Retry-After``): the database cannot be reached or
  refuses connections (connection refused, unreachable, no answer within
  ``DB_CONNECT_TIMEOUT_SECONDS``, too many connections or a ``CONNECTION LIMIT``,
  starting up or shutting down, read-only after a failover), no pooled connection came
  free within ``DB_POOL_TIMEOUT_SECONDS``, or the request's connection was lost (the
  server ended it: a restart, a failover, a pooler restart, an idle timeout). SQLite: the
  database is locked by another writer past its busy timeout, or cannot be opened.
- ``TIMEOUT`` (HTTP 504): the server cancelled a statement at ``DB_STATEMENT_TIMEOUT_MS``.
- Anything else is not the database's availability (``None``): a bug, answered as one.

A lost connection is never reused: SQLAlchemy invalidates it when one of its statements
fails that way, the prepared reads do the same for theirs (app.db.prepared), and the
pool checks every connection it hands out (app.db.engine): the next request gets a new
one, so the gateway recovers as soon as the database answers again.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import asyncpg
from sqlalchemy import exc as sa_exc

RETRY_AFTER_SECONDS = 2


class DatabaseUnavailable(Exception):
    """Raised by our own database code for a connection that could not be opened in
    time or was lost (the driver's own exception is its ``__cause__``)."""


@dataclass(frozen=True, slots=True)
class DatabaseFailure:
    """What an exception from the database means for the client (answered by
    app.edge.errors.database_refusal)."""

    code: str  # SERVICE_UNAVAILABLE or TIMEOUT
    reason: str  # for logs and /readyz; the client gets a message without details


# What the server says when it cannot serve us now (SQLSTATE classes and codes).
_PG_UNAVAILABLE: dict[type[Exception], str] = {
    asyncpg.PostgresConnectionError: "the connection to the database failed",  # class 08
    asyncpg.TooManyConnectionsError: "the database refuses more connections",  # 53300
    asyncpg.InsufficientResourcesError: "the database is out of resources",  # class 53
    asyncpg.AdminShutdownError: "the server ended the connection",  # 57P01 (or a failover)
    asyncpg.CrashShutdownError: "the server ended the connection",  # 57P02
    asyncpg.CannotConnectNowError: "the database is starting up or shutting down",  # 57P03
    asyncpg.ReadOnlySQLTransactionError: "the database is read-only (a standby)",  # 25006
}
_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk I/O error",
)
_LOST = "the connection to the database was lost"


def classify(error: BaseException | None) -> DatabaseFailure | None:
    """What ``error`` (or an exception it wraps) says about the database; ``None`` when
    it is not a database failure. The reason names the kind of failure only (no
    addresses, no SQL): it is logged and shown by ``/readyz``."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        failure = _one(error)
        if failure is not None:
            return failure
        # graphql-core wraps a resolver's exception, SQLAlchemy the driver's.
        error = (
            getattr(error, "original_error", None)
            or getattr(error, "orig", None)
            or error.__cause__
        )
    return None


def _one(error: BaseException) -> DatabaseFailure | None:
    reason: str | None = None
    if isinstance(error, DatabaseUnavailable):
        reason = str(error)
    elif isinstance(error, sa_exc.TimeoutError):  # the pool's checkout wait
        reason = "no pooled connection came free in time"
    elif isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        reason = _LOST
    elif isinstance(error, asyncpg.QueryCanceledError):
        return DatabaseFailure("TIMEOUT", "a statement ran past the statement timeout")
    elif isinstance(error, asyncpg.PostgresError):
        reason = next((r for t, r in _PG_UNAVAILABLE.items() if isinstance(error, t)), None)
    elif isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        reason = _LOST
    elif isinstance(error, sqlite3.OperationalError) and str(error) in _SQLITE_UNAVAILABLE:
        reason = f"SQLite: {error}"
    elif isinstance(error, OSError):  # refused, unreachable, reset: the network said no
        reason = "the database could not be reached"
    return None if reason is None else DatabaseFailure("SERVICE_UNAVAILABLE", reason)
