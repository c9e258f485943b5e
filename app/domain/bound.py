"""Repositories bound to the request (Polar's pattern): an object that reads for one
request, holding what every statement of it needs, so its callers pass neither a
session nor a workspace id.

``Reads`` owns the request's session: each method takes it under its lock
(``RequestDB.session()``) for one repository call, the way a loader's batch does, and
reads what lies beyond a page's cursors (``beyond``) the same way. ``WorkspaceReads`` is
also bound to one workspace, and can only be made from ``RequestDB.bound(workspace_id)``,
which refuses a workspace outside the request's tenant context (the viewer's).

The statements themselves stay the area modules' functions taking ``(session,
workspace_id, …)``: services call them inside a mutation's unit of work, which holds the
lock already (a bound repository there would wait on it forever).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.session import WorkspaceDB
from app.domain.pagination import Page, Side

P = ParamSpec("P")
R = TypeVar("R")


class Sessions(Protocol):
    """Where a repository takes the request's session: ``RequestDB``, ``WorkspaceDB``."""

    def session(self) -> AbstractAsyncContextManager[AsyncSession]: ...


class Reads:
    """Reads on the request's session, each under its lock."""

    __slots__ = ("_db",)

    def __init__(self, db: Sessions) -> None:
        self._db = db

    async def _run(
        self, read: Callable[Concatenate[AsyncSession, P], Awaitable[R]], *a: P.args, **k: P.kwargs
    ) -> R:
        async with self._db.session() as session:
            return await read(session, *a, **k)

    async def beyond(self, page: Page[Any], side: Side) -> bool:
        """Whether rows lie beyond the cursor ``page`` started from (``Page.beyond``)."""
        async with self._db.session() as session:
            return await page.beyond(session, side)


class WorkspaceReads(Reads):
    """Reads of one workspace the request is bound to; every one is scoped to it."""

    __slots__ = ("workspace_id",)

    def __init__(self, db: WorkspaceDB) -> None:
        super().__init__(db)
        self.workspace_id = db.workspace_id

    async def _in(
        self,
        read: Callable[Concatenate[AsyncSession, int, P], Awaitable[R]],
        *a: P.args,
        **k: P.kwargs,
    ) -> R:
        """``read(session, workspace_id, …)`` for this workspace."""
        async with self._db.session() as session:
            return await read(session, self.workspace_id, *a, **k)
