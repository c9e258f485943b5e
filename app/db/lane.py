"""Idle pooled connections kept between reads outside a transaction (PostgreSQL).

A read outside a transaction (app.db.prepared: the viewer's account, a read-only
request's statements) takes a connection from SQLAlchemy's pool and gives it back: a
checkout and a checkin, about a tenth of a tiny request's CPU (docs/performance.md).
The lane keeps a few of those connections checked out between reads, so the next read
takes one from a list.

What it may keep cannot starve a request: at most the connections the admission cap
leaves spare, ``DB_POOL_SIZE + DB_MAX_OVERFLOW - MAX_IN_FLIGHT`` (a request holds one
connection at a time: docs/scaling.md), at most 4, none without a cap. The pool's
budget is unchanged. Every kept connection goes back to the pool when a read ends
while a checkout waits; one goes back when it has been idle for a second and once it
has been out of the pool for a minute (so ``pool_recycle`` still applies); all are
closed when the engine is disposed. A connection the server ended is invalidated when
it is taken; a read that finds its connection ended empties the lane
(app.db.prepared).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.driver import pool_waiting

MAX_KEPT = 4
IDLE_SECONDS = 1.0
MAX_AGE_SECONDS = 60.0


def lane_size(pool_size: int, max_overflow: int, max_in_flight: int) -> int:
    """How many idle connections a worker may keep: what its admission cap leaves spare
    (none when requests are not capped)."""
    if max_in_flight <= 0:
        return 0
    return max(0, min(MAX_KEPT, pool_size + max_overflow - max_in_flight))


class Lane:
    """The idle connections kept for one engine: ``take`` one, ``give_back`` it. (It
    holds no reference to the engine, which holds it.)"""

    __slots__ = ("_idle", "_timer", "age", "idle_seconds", "size")

    def __init__(
        self, size: int, idle_seconds: float = IDLE_SECONDS, age: float = MAX_AGE_SECONDS
    ) -> None:
        self.size = size
        self.idle_seconds = idle_seconds
        self.age = age
        # (connection, when it left the pool, when it was last given back), newest last
        self._idle: list[tuple[Any, float, float]] = []
        self._timer: asyncio.TimerHandle | None = None

    @property
    def kept(self) -> int:
        return len(self._idle)

    async def take(self, engine: AsyncEngine) -> tuple[Any, float]:
        """A pooled connection of ``engine`` and when it left the pool: a kept one if one
        is alive, else a checkout."""
        idle = self._idle
        while idle:
            raw, since, _ = idle.pop()
            driver = raw.driver_connection
            if raw.is_valid and driver is not None and not driver.is_closed():
                return raw, since
            raw.invalidate()  # the server ended it meanwhile
        return await engine.raw_connection(), time.monotonic()

    def give_back(self, engine: AsyncEngine, raw: Any, since: float) -> None:
        """Keep ``raw`` (healthy, outside any transaction) for the next read, or return
        it to the pool."""
        now = time.monotonic()
        if pool_waiting(engine.sync_engine.pool):  # a checkout waits: hand it all back
            raw.close()
            idle, self._idle = self._idle, []
            for kept, _, _ in idle:
                kept.close()
            return
        if len(self._idle) >= self.size or now - since > self.age:
            raw.close()
            return
        self._idle.append((raw, since, now))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._trim)

    def _trim(self) -> None:
        """Return the connections idle for ``idle_seconds`` to the pool."""
        self._timer = None
        stale = time.monotonic() - self.idle_seconds
        keep = []
        for entry in self._idle:
            if entry[2] > stale:
                keep.append(entry)
            else:
                entry[0].close()
        self._idle = keep
        if keep:
            self._timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._trim)

    def drop_all(self) -> None:
        """Invalidate every kept connection: the server ended one (the others likely
        with it), or the engine is disposed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        for raw, _, _ in idle:
            raw.invalidate()


_LANES: weakref.WeakKeyDictionary[Engine, Lane] = weakref.WeakKeyDictionary()


def keep_idle_connections(engine: AsyncEngine, size: int) -> None:
    """Give ``engine`` (asyncpg) a lane of ``size`` kept connections (0: none)."""
    if size <= 0:
        return
    lane = _LANES[engine.sync_engine] = Lane(size)
    # The engine's dispose replaces its pool; the connections kept from the old one
    # are closed with it (in SQLAlchemy's greenlet: closed gracefully).
    event.listen(engine.sync_engine, "engine_disposed", lambda _: lane.drop_all())


def lane_of(engine: AsyncEngine) -> Lane | None:
    return _LANES.get(engine.sync_engine)
