"""Engines kept from one test to the next on the same lent database.

SQLAlchemy keeps per engine what makes a statement cheap the second time: its compiled
form, and each column type's implementation for the engine's dialect. An engine made
per test compiled every statement afresh: about a third of a PostgreSQL test's client
CPU. The databases are lent (PostgreSQL clones, SQLite copies: tests/databases.py), so
the same URL comes back, and with it the engine made for it: disposed after each test
(its connections closed, so the database can be reset), its caches kept.

An engine comes back only as it was made: a test that added or removed an event
listener, or changed its execution options, gets its engine dropped instead, and the
next test a new one. A test that makes engines of its own is unaffected.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.events import ConnectionEvents, DialectEvents, PoolEvents
from sqlalchemy.ext.asyncio import AsyncEngine


def _event_names(events: type) -> tuple[str, ...]:
    return tuple(n for n in vars(events) if not n.startswith("_") and callable(vars(events)[n]))


_ENGINE_EVENTS = _event_names(ConnectionEvents)
_DIALECT_EVENTS = _event_names(DialectEvents)
_POOL_EVENTS = _event_names(PoolEvents)


def _listeners(dispatch: Any, names: tuple[str, ...]) -> tuple[int, ...]:
    counts = []
    for name in names:
        try:
            counts.append(len(getattr(dispatch, name)))
        except AttributeError:  # an event this target does not dispatch
            counts.append(-1)
    return tuple(counts)


def shape(engine: AsyncEngine) -> tuple[Any, ...]:
    """What a test could change on an engine: its listeners and execution options."""
    sync = engine.sync_engine
    return (
        _listeners(sync.dispatch, _ENGINE_EVENTS),
        _listeners(sync.dialect.dispatch, _DIALECT_EVENTS),
        _listeners(sync.pool.dispatch, _POOL_EVENTS),
        sorted(engine.get_execution_options().items(), key=repr),
    )


class KeptEngines:
    """Engines by key (a database URL and the settings they were made with)."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[AsyncEngine, tuple[Any, ...]]] = {}

    @asynccontextmanager
    async def lend(self, key: str, make: Callable[[], AsyncEngine]) -> AsyncIterator[AsyncEngine]:
        found = self.kept.pop(key, None)  # one user at a time
        if found is None:
            engine = make()
            found = (engine, shape(engine))
        engine, made = found
        try:
            yield engine
        finally:
            await engine.dispose()
            if key not in self.kept and shape(engine) == made:
                self.kept[key] = found

    async def close(self) -> None:
        kept, self.kept = self.kept, {}
        for engine, _ in kept.values():
            await engine.dispose()
