"""The request's unit of work.

One GraphQL request = one ``AsyncSession`` = one transaction (and, on PostgreSQL, one
pooled connection for the whole request). graphql-core resolves sibling fields
concurrently and aiodataloader dispatches batches as tasks, but an ``AsyncSession``
must never be used by two tasks at once. So every use of the session goes through
``RequestDB.session()``, which holds an ``asyncio.Lock`` for the duration of the
block: statements from concurrent resolvers queue up instead of interleaving.
Batching (one statement per loader batch) keeps that queue short.

Why not a session per loader batch? Every transaction would have to re-establish
the tenant context, and a request would no longer read one consistent snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Runs once on the session before its first statement (e.g. to set the tenant context).
SessionHook = Callable[[AsyncSession], Awaitable[None]]


class RequestDB:
    __slots__ = ("_hook", "_lock", "_session", "_sessionmaker")

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], on_begin: SessionHook | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._hook = on_begin
        self._lock = asyncio.Lock()
        self._session: AsyncSession | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Exclusive use of the request's session for the duration of the block."""
        async with self._lock:
            if self._session is None:
                session = self._sessionmaker()
                if self._hook is not None:
                    await self._hook(session)
                self._session = session
            yield self._session

    @property
    def started(self) -> bool:
        return self._session is not None

    async def finish(self, *, commit: bool) -> None:
        """End the unit of work: commit or roll back, and give the connection back."""
        async with self._lock:
            session, self._session = self._session, None
            if session is None:
                return
            try:
                if commit:
                    await session.commit()
                else:
                    await session.rollback()
            finally:
                await session.close()
