"""The request's unit of work.

One GraphQL request = one ``AsyncSession`` = at most one transaction (and, on
PostgreSQL, one pooled connection for it). graphql-core resolves sibling fields
concurrently and aiodataloader dispatches batches as tasks, but an ``AsyncSession``
must never be used by two tasks at once. So every use of the session goes through
``RequestDB.session()``, which holds an ``asyncio.Lock`` for the duration of the
block: statements from concurrent resolvers queue up instead of interleaving.
Batching (one statement per loader batch) keeps that queue short.

A query (``read_only``) on PostgreSQL sends no BEGIN/COMMIT while it only runs prepared
reads: each runs on a pooled connection in its own implicit transaction and sets the
tenant context itself (app.db.prepared.OutsideReads). Under READ COMMITTED each
statement reads its own snapshot whether or not a transaction surrounds it, so this
changes nothing a reader can see. The first statement through the ORM begins the
session's transaction as usual (with the context, below), and the prepared reads after
it run inside it. (A request that reads nothing but the viewer's account reads it the
same way, before any session exists: app.db.prepared.Prepared.outside_transaction.)

Tenant context (PostgreSQL row-level security): the session carries ``self.tenant``,
which authentication fills once it knows the viewer's workspaces
(``app.db.tenant.enter``). Every transaction the session begins — the first one, and
any that follows a mid-request ``session.commit()`` — starts with
``set_config(…, true)`` from it, so nothing depends on remembering to set it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState

from app.db.prepared import OUTSIDE_KEY, OutsideReads, SignInChanged, SignInCheck
from app.db.tenant import Tenant, TenantSession, attach, key_of
from app.db.tenant import enter as enter_tenant

log = logging.getLogger("app.db")


class RequestDB:
    __slots__ = (
        "_cut_off",
        "_lock",
        "_session",
        "_sessionmaker",
        "committed",
        "read_only",
        "sign_in_check",
        "tenant",
    )

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._lock = asyncio.Lock()
        self._session: AsyncSession | None = None
        self._cut_off = False  # a statement was cancelled midway (the request's deadline)
        # Empty until authentication enters the viewer's workspaces.
        self.tenant = Tenant()
        # A query, known before its first statement: on PostgreSQL its prepared reads run
        # outside a transaction until the session begins one (app.db.prepared.OutsideReads).
        self.read_only = False
        # A transaction of this request committed (a mutation's unit of work): what the
        # request changed stays, whatever happens to it afterwards.
        self.committed = False
        # A query's sign-in, deferred to its first read (``defer_sign_in``).
        self.sign_in_check: SignInCheck | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Exclusive use of the request's session for the duration of the block."""
        async with self._lock:
            if self._session is None:
                session = self._sessionmaker()
                # Only a TenantSession sets the context at BEGIN (app.db.engine).
                assert isinstance(session.sync_session, TenantSession), "use create_sessionmaker"
                attach(session, self.tenant)
                session.info[_REQUEST_KEY] = self
                if self.read_only and self.engine.dialect.driver == "asyncpg":
                    session.info[OUTSIDE_KEY] = OutsideReads(
                        self.engine, self._signed_context, self._check
                    )
                self._session = session
            try:
                yield self._session
            except asyncio.CancelledError:
                self._cut_off = True
                raise

    def bound(self, workspace_id: int) -> WorkspaceDB:
        """The request's session for one workspace its tenant context holds (the viewer's,
        as authentication entered them): what a workspace-bound repository reads through.
        Any other workspace is refused (LookupError): a repository cannot be made for it."""
        if workspace_id not in self.tenant.workspace_ids:
            raise LookupError(f"workspace {workspace_id} is not one this request is bound to")
        return WorkspaceDB(self, workspace_id)

    async def enter(self, *, user_id: int, workspace_ids: Iterable[int]) -> None:
        """Change the workspaces the request acts in (app.db.tenant.enter), under the
        session's lock: from the transaction in progress on, if any."""
        async with self.session() as session:
            await enter_tenant(session, user_id=user_id, workspace_ids=workspace_ids)

    def defer_sign_in(
        self, check: SignInCheck, *, user_id: int, workspace_ids: Iterable[int]
    ) -> None:
        """A query (``read_only``, PostgreSQL) goes ahead as the viewer an earlier sign-in
        found, in these workspaces, without signing in first: its first read outside a
        transaction signs in in the same statement (app.db.prepared.SignInCheck), and
        ``confirm_sign_in`` says whether the database still answers what was expected.
        A transaction begun meanwhile starts with the context of these workspaces, which
        the confirmation covers too: nothing read is answered before it."""
        assert self.read_only and self.engine.dialect.driver == "asyncpg"
        self.sign_in_check = check
        self.tenant.user_id = user_id
        self.tenant.workspace_ids = tuple(sorted(set(workspace_ids)))

    async def confirm_sign_in(self) -> None:
        """Raises ``SignInChanged`` unless a deferred sign-in (if any) answered what was
        expected; sends it alone if no read carried it. After a change the request holds
        no tenant context and no deferred sign-in: the caller signs in again."""
        check = self.sign_in_check
        if check is None or check.confirmed:
            return
        try:
            if check.confirmed is None:
                rows = await self._sign_in_alone(check)
                check.settle(rows[0].digest if rows else None)
            else:
                raise SignInChanged
        except SignInChanged:
            self.sign_in_check = None
            self.tenant.user_id, self.tenant.workspace_ids = None, ()
            raise

    async def _sign_in_alone(self, check: SignInCheck) -> list[Any]:
        async with self.session() as session:
            if session.sync_session.get_transaction() is not None:
                return await check.statement.all(session, **check.params)
        return await check.statement.outside_transaction(self.engine, **check.params)

    def _check(self) -> SignInCheck | None:
        return self.sign_in_check

    def _signed_context(self) -> str | None:
        """The tenant context a read outside a transaction sets for itself."""
        if self.tenant.user_id is None:
            return None  # nothing entered yet: the statement reads under no context
        return self.tenant.signed(key_of(self.engine))

    @property
    def read_through_orm(self) -> bool:
        """A statement of this request went through the session's ORM execution (not a
        prepared read), which begins a transaction: a query that does so is better off
        reading everything in it, sign-in included (one round trip less)."""
        return self._session is not None and _ORM_KEY in self._session.info

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
            if session.sync_session.get_transaction() is None:
                return  # nothing began (reads outside a transaction): no connection to give back
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


class WorkspaceDB:
    """The request's session bound to one workspace (``RequestDB.bound``, the only way
    to make one): a workspace-bound repository takes its workspace id from here and
    each of its reads takes the request's session under its lock."""

    __slots__ = ("_request", "workspace_id")

    def __init__(self, request: RequestDB, workspace_id: int) -> None:
        self._request = request
        self.workspace_id = workspace_id

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._request.session()


_ORM_KEY = "harmony.read_through_orm"
_REQUEST_KEY = "harmony.request_db"


_WROTE_KEY = "harmony.wrote"


@event.listens_for(TenantSession, "after_flush")
def _note_flush(session: TenantSession, _context: object) -> None:
    session.info[_WROTE_KEY] = True


@event.listens_for(TenantSession, "after_commit")
def _note_commit(session: TenantSession) -> None:
    """A transaction that wrote (a flush, or an INSERT/UPDATE/DELETE statement) committed."""
    request = session.info.get(_REQUEST_KEY)
    if session.info.pop(_WROTE_KEY, False) and isinstance(request, RequestDB):
        request.committed = True


@event.listens_for(TenantSession, "after_rollback")
def _forget_writes(session: TenantSession) -> None:
    session.info.pop(_WROTE_KEY, None)


@event.listens_for(TenantSession, "do_orm_execute")
def _note_orm_execution(state: ORMExecuteState) -> None:
    state.session.info[_ORM_KEY] = True
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE_KEY] = True


async def _roll_back(session: AsyncSession) -> None:
    """Roll back, for a request that is already answered with an error: a connection
    that cannot roll back (lost, or no answer within the driver's command timeout) is
    invalidated instead, and the pool opens a new one."""
    try:
        await session.rollback()
    except Exception:
        log.warning("rollback failed: the connection is dropped", exc_info=True)
        await session.invalidate()
