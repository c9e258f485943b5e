"""The database driver's internals, fenced: every use the app makes of a private part
of SQLAlchemy's drivers and pool lives here, behind a small named function.

A library upgrade may move any of these; ``tests/test_internals.py`` has a canary per
internal that names the library, its installed version and this module when one
breaks, and a lint that keeps private attributes of third-party objects out of the
rest of ``app/``.

- ``begin_driver_transaction``: SQLAlchemy's asyncpg adapter begins the driver's
  transaction lazily, on its first statement (``_transaction`` / ``_start_transaction``
  of ``AsyncAdapt_asyncpg_connection``); prepared reads (app.db.prepared) run on the
  asyncpg connection itself, so they begin it first.
- ``pool_waiting``: how many checkouts wait on SQLAlchemy's async queue pool (its
  asyncio queue's getters), for the pool gauge (app.observability.metrics).
- ``invalidate_pool``: what SQLAlchemy does itself when a statement finds its connection
  ended (``Pool._invalidate``), for a pooled connection used without a SQLAlchemy
  ``Connection`` around it (app.db.prepared's reads outside a transaction).
"""

from __future__ import annotations

from typing import Any


async def begin_driver_transaction(adapter: Any) -> None:
    """Begin the driver's transaction under SQLAlchemy's asyncpg ``adapter`` (the pool
    record's ``dbapi_connection``) unless it has begun. Raises what asyncpg raises."""
    if adapter._transaction is None:
        await adapter._start_transaction()


def pool_waiting(pool: Any) -> int:
    """Checkouts waiting on SQLAlchemy's queue pool (its asyncio queue's getters); 0 for
    a pool without one."""
    queue = getattr(getattr(pool, "_pool", None), "_queue", None)
    return len(getattr(queue, "_getters", ()))


def invalidate_pool(raw: Any, error: BaseException) -> None:
    """The server ended ``raw`` (a pool's proxied connection): drop it, and have every
    connection its pool opened before now replaced at its next checkout. A restart or a
    failover ends them all; without this a retry could draw another dead one."""
    raw._pool._invalidate(raw, error)
