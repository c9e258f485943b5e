"""The request's unit of work.

One GraphQL request = one ``AsyncSession`` = one transaction (and, on PostgreSQL, one
pooled connection for the whole request). graphql-core resolves sibling fields
concurrently and aiodataloader dispatches batches as tasks, but an ``AsyncSession``
must never be used by two tasks at once. So every use of the session goes through
``RequestDB.session()``, which holds an ``asyncio.Lock`` for the duration of the
block: statements from concurrent resolvers queue up instead of interleaving.
Batching (one statement per loader batch) keeps that queue short. (One read happens
outside it: a request that reads nothing but the viewer's account reads it on a pooled
connection of its own, outside any transaction, before any session exists; see
app.db.prepared.Prepared.outside_transaction.)

Why not a session per loader batch? Every transaction would have to re-establish
the tenant context, and a request would no longer read one consistent snapshot.

Tenant context (PostgreSQL row-level security): the session carries ``self.tenant``,
which authentication fills once it knows the viewer's workspaces
(``app.db.tenant.enter``). Every transaction the session begins — the first one, and
any that follows a mid-request ``session.commit()`` — starts with
``set_config(…, true)`` from it, so nothing depends on remembering to set it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.tenant import Tenant, TenantSession, attach

log = logging.getLogger("app.db")


class RequestDB:
    __slots__ = ("_cut_off", "_lock", "_session", "_sessionmaker", "tenant")

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._lock = asyncio.Lock()
        self._session: AsyncSession | None = None
        self._cut_off = False  # a statement was cancelled midway (the request's deadline)
        # Empty until authentication enters the viewer's workspaces.
        self.tenant = Tenant()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Exclusive use of the request's session for the duration of the block."""
        async with self._lock:
            if self._session is None:
                session = self._sessionmaker()
                # Only a TenantSession sets the context at BEGIN (app.db.engine).
                assert isinstance(session.sync_session, TenantSession), "use create_sessionmaker"
                attach(session, self.tenant)
                self._session = session
            try:
                yield self._session
            except asyncio.CancelledError:
                self._cut_off = True
                raise

    @property
    def started(self) -> bool:
        return self._session is not None

    @property
    def engine(self) -> AsyncEngine:
        engine = self._sessionmaker.kw["bind"]
        assert isinstance(engine, AsyncEngine)
        return engine

    async def finish(self, *, commit: bool) -> None:
        """End the unit of work: commit or roll back, and give the connection back."""
        async with self._lock:
            session, self._session = self._session, None
            if session is None:
                return
            try:
                if commit:
                    await session.commit()
                elif self._cut_off:
                    # The driver may still be cancelling the statement (and wait for a
                    # server that does not answer): the connection is dropped, not reused.
                    await session.invalidate()
                else:
                    await _roll_back(session)
            finally:
                await session.close()


async def _roll_back(session: AsyncSession) -> None:
    """Roll back, for a request that is already answered with an error: a connection
    that cannot roll back (lost, or no answer within the driver's command timeout) is
    invalidated instead, and the pool opens a new one."""
    try:
        await session.rollback()
    except Exception:
        log.warning("rollback failed: the connection is dropped", exc_info=True)
        await session.invalidate()
