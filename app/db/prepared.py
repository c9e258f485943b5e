"""Hot read statements, built once and run on the driver.

Executing a Core or ORM ``select`` through the session costs far more than the query:
the statement is rebuilt per request, its cache key generated, an execution context
set up and (for ORM) rows hydrated. Measured on the benchmark database (2,000 runs of a
50-row page as ``harmony_app``): ORM ``select`` 0.56 ms, Core 0.46 ms,
``exec_driver_sql`` 0.21 ms, asyncpg directly 0.11 ms of client CPU.

``Prepared`` keeps what is fixed: the statement is built once (with ``bindparam``s
for everything that varies), compiled once per dialect into SQL text, the bind and
result processors of its columns taken from SQLAlchemy, and a row class made for its
columns. Each execution binds the parameters, runs the text on the request's own
connection and transaction, and applies the processors (enums, SQLite datetimes).

- PostgreSQL: the asyncpg connection under SQLAlchemy's adapter, with asyncpg's
  statement cache. SQLAlchemy starts the driver's transaction lazily, on its first
  statement; ``_link`` starts it first if nothing has yet (once per transaction), so a
  prepared read always runs inside the request's transaction and sees its tenant context
  (app.db.tenant). ``tests/db/test_prepared.py`` pins that on a real server.
- SQLite (or any driver but asyncpg): ``exec_driver_sql`` on the same connection.
- ``outside_transaction``: on a pooled connection of its own, no transaction at all (the
  one read of a request that reads nothing but the viewer's account). Such reads take
  their connection from the engine's lane of kept connections (app.db.lane) when it has
  one.

These reads bypass SQLAlchemy's execution, so they do what it does for a connection the
server has ended (app.db.failures): they invalidate it (the pool replaces it) and raise
``DatabaseUnavailable``. A session's very first statement that finds its connection
closed before anything ran is run again once, on a new connection (a read outside a
transaction too): a restart or failover costs the first request nothing.

Rows are named tuples (``row.name``): read paths only; a service that changes a row
loads the ORM entity. Statements whose text depends on the request's shape (a filter
present or not) are one ``Prepared`` per shape: ``prepared(key, build)`` memoises.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections import namedtuple
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Generic, NoReturn, TypeVar

import asyncpg
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.elements import KeyedColumnElement
from sqlmodel import SQLModel

from app.db.driver import begin_driver_transaction, invalidate_pool
from app.db.failures import DatabaseUnavailable
from app.db.lane import lane_of
from app.db.rows import RowShape
from app.db.types import UTCDateTime, table_of

Builder = Callable[[str], sa.Select[Any]]  # dialect name -> statement
R = TypeVar("R")
# A table's columns by key (``table.c``).
Columns = ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]

# The setting row-level security reads the tenant context from (app.db.tenant).
CONTEXT_SETTING = "app.context"

# What asyncpg raises on a connection the server ended (what it raises first depends on
# when the termination notice arrives).
_CONNECTION_LOST = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    ConnectionError,
    OSError,
)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[str, ...]  # positional order
    defaults: dict[str, Any]  # values bound in the statement itself (literals)
    bind: tuple[Callable[[Any], Any] | None, ...]
    result: tuple[tuple[int, Callable[[Any], Any]], ...] | None  # (column, processor); None: none
    row: Any  # named tuple class of the selected columns
    in_context: str | None  # asyncpg: the statement entering a tenant context first (last $n)
    # asyncpg: the statement signing in first (``_SIGNING_IN``), by the sign-in's text
    signing_in: dict[str, str]

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        """The driver's positional arguments for ``params`` (a literal's own value for
        a parameter not given), each through its type's bind processor."""
        args = []
        for name, process in zip(self.params, self.bind, strict=True):
            value = params[name] if name in params else self.defaults[name]
            args.append(value if process is None or value is None else process(value))
        return args

    def fold(self, signing_in: _Compiled) -> str:
        """This statement read after ``signing_in`` in one statement (``_SIGNING_IN``):
        the sign-in's parameters follow this statement's own."""
        offset = len(self.params)
        signed = _PLACEHOLDER.sub(lambda m: f"${int(m.group(1)) + offset}", signing_in.sql)
        folded = self.signing_in[signing_in.sql] = _SIGNING_IN.format(signed=signed, sql=self.sql)
        return folded


# The type code the driver reports for a column (cursor.description), which some result
# processors convert by: asyncpg's numeric ones raise TypeError without it. What
# SQLAlchemy's own execution passes; here the column's declared type decides it.
_PG_FLOAT8 = 701
_PG_NUMERIC = 1700


def _result_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    base = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    if isinstance(type_, UTCDateTime) and _on_asyncpg(dialect):
        # asyncpg returns a timestamptz as an aware datetime, which UTCDateTime's processor
        # would return unchanged (every timestamp column is timestamptz: tests/db/test_prepared.py)
        return None
    if (
        type(type_) is sa.Enum
        and type_.enum_class is not None
        and not type_.native_enum
        and sa.String().dialect_impl(dialect).result_processor(dialect, None) is None
    ):
        # What SQLAlchemy's processor does (stored value → member, an unknown value an
        # error), as one dict lookup instead of two Python calls per value.
        return dict(zip(type_.enums, type_.enum_class, strict=True)).__getitem__
    code = None
    if dialect.name == "postgresql" and isinstance(base, sa.Float):  # not a Numeric in 2.1
        code = _PG_FLOAT8
    elif dialect.name == "postgresql" and isinstance(base, sa.Numeric):
        code = _PG_NUMERIC
    return type_.dialect_impl(dialect).result_processor(dialect, code)  # type: ignore[no-any-return]


class Prepared(Generic[R]):
    """A read whose rows are ``R``: ``row`` names the columns its statement must
    select, checked when it first compiles (app.models.rows)."""

    __slots__ = ("_build", "_compiled", "name", "row")

    def __init__(self, name: str, build: Builder, row: RowShape[R]) -> None:
        self.name = name
        self._build = build
        self.row = row
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        stmt = self._build(dialect.name)
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[n] for n in names]
        processors = [_result_processor(c.type, dialect) for c in stmt.selected_columns]
        result = tuple((i, p) for i, p in enumerate(processors) if p is not None)
        keys = [str(c.key) for c in stmt.selected_columns]
        self.row.check(keys, self.name)
        in_context = None
        if _on_asyncpg(dialect):
            in_context = _IN_CONTEXT.format(sql=compiled.string, context=f"${len(names) + 1}")
        return _Compiled(
            sql=compiled.string,
            in_context=in_context,
            signing_in={},
            params=names,
            defaults={n: b.effective_value for n, b in zip(names, binds, strict=True)},
            bind=tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds),
            result=result or None,
            row=_with_unread(namedtuple("Row", keys, rename=True), self.row.unread),
        )

    def compiled(self, dialect: Dialect) -> _Compiled:
        key = f"{dialect.name}+{dialect.driver}"  # the text depends on the driver's paramstyle
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(dialect)
        return found

    async def all(self, session: AsyncSession, **params: Any) -> list[R]:
        if session.sync_session.get_transaction() is None:
            outside = session.info.get(OUTSIDE_KEY)
            if isinstance(outside, OutsideReads):
                return await outside.run(self, params)
        return await self._run(await _link(session), params)

    async def outside_transaction(self, engine: AsyncEngine, **params: Any) -> list[R]:
        """Run on a pooled connection of its own, outside any transaction (PostgreSQL: no
        BEGIN/COMMIT round trips). Only for a read that needs no tenant context and no
        consistency with other statements: a request that reads nothing but the
        viewer's account (app.edge.authenticate)."""
        if not _on_asyncpg(engine.dialect):
            async with engine.connect() as conn:
                sync = conn.sync_connection
                assert sync is not None
                return await self._run(_Link(None, conn, sync, conn.dialect, None), params)
        # The pool's connection itself, without an AsyncConnection around it: half the
        # client CPU of the read (0.06 ms instead of 0.12 ms on the benchmark).
        return await _on_pooled_connection(engine, self, params, None)

    async def _run(
        self, link: _Link, params: dict[str, Any], context: str | SignInCheck | None = None
    ) -> list[R]:
        c = self.compiled(link.dialect)
        args = c.arguments(params)
        sql = c.sql
        check = None
        if context is not None:
            assert c.in_context is not None, "a tenant context outside a transaction: asyncpg only"
            if isinstance(context, SignInCheck):
                check = context
                signing_in = check.statement.compiled(link.dialect)
                sql = c.signing_in.get(signing_in.sql) or c.fold(signing_in)
                args.extend(signing_in.arguments(check.params))
            else:
                sql = c.in_context
                args.append(context)
        if link.driver is not None:
            # Listeners of the engine's statement events (statement counts in tests and
            # the benchmark, tracing) see these statements too; cursor and context are None.
            sync = link.sync
            sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
            try:
                records: Sequence[Any] = await link.driver.fetch(sql, *args)
            except Exception as error:
                if link.conn is not None and link.driver.is_closed():
                    await _lost(link.conn, error)
                raise  # outside_transaction: handled there
            sync.dispatch.after_cursor_execute(sync, None, sql, args, None, False)
            if check is not None:
                records = check.settled(records)
        else:
            assert link.conn is not None
            records = (await link.conn.exec_driver_sql(c.sql, tuple(args))).all()
        new, row = tuple.__new__, c.row  # the row class's own _make, less its length check
        if c.result is None:
            return [new(row, r) for r in records]
        out = []
        for record in records:
            values = list(record)
            for i, process in c.result:
                value = values[i]
                if value is not None:
                    values[i] = process(value)
            out.append(new(row, values))
        return out

    async def first(self, session: AsyncSession, **params: Any) -> R | None:
        rows = await self.all(session, **params)
        return rows[0] if rows else None


@dataclass(frozen=True, slots=True)
class _Link:
    """The session's connection in its current transaction, as prepared reads use it."""

    transaction: Any  # the session's SessionTransaction this link belongs to
    conn: AsyncConnection | None  # None: the pool's raw connection (outside_transaction)
    sync: Connection | Engine  # whose statement events the reads dispatch
    dialect: Dialect
    driver: Any  # the asyncpg connection (PostgreSQL), else None


_LINK_KEY = "harmony.prepared_link"


def _on_asyncpg(dialect: Dialect) -> bool:
    """asyncpg is the driver we run on directly; any other goes through
    ``exec_driver_sql`` (SQLite's aiosqlite here)."""
    return dialect.driver == "asyncpg"


async def _link(session: AsyncSession) -> _Link:
    """The session's connection for this transaction: looked up (and, on PostgreSQL,
    the driver's transaction begun) once per transaction, not per statement."""
    transaction = session.sync_session.get_transaction()
    link = session.info.get(_LINK_KEY)
    if link is not None and transaction is not None and link.transaction is transaction:
        return link  # type: ignore[no-any-return]
    conn = await session.connection()  # begins the session's transaction if needed
    driver = None
    if _on_asyncpg(conn.dialect):
        # Nothing has run in this session: its first statement may go to a new connection.
        untouched = transaction is None and link is None and not session.identity_map
        try:
            driver = await _driver_in_transaction(conn)
        except DatabaseUnavailable:  # the connection was found ended (and invalidated)
            if not untouched:
                raise
            await session.rollback()  # gives the invalidated connection back
            conn = await session.connection()
            driver = await _driver_in_transaction(conn)
    sync = conn.sync_connection
    assert sync is not None
    link = _Link(session.sync_session.get_transaction(), conn, sync, conn.dialect, driver)
    session.info[_LINK_KEY] = link
    return link


async def _driver_in_transaction(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``, its transaction begun: SQLAlchemy begins
    the driver's transaction lazily, on its first statement; begin it now, so this
    statement belongs to the request's transaction."""
    raw = await conn.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    driver: Any = raw.driver_connection
    try:
        await begin_driver_transaction(adapter)
    except Exception as error:
        if driver.is_closed():
            await _lost(conn, error)
        raise
    return driver


async def _lost(conn: AsyncConnection, error: Exception) -> NoReturn:
    """The server ended the connection under a statement of ours: SQLAlchemy is told (the
    pool replaces the connection), and the request gets a typed error."""
    await conn.invalidate(error)
    raise DatabaseUnavailable("the database connection was lost") from error


# A statement run outside a transaction that must read under a tenant context sets it
# itself, before anything it reads: the context is set (transaction-local: the implicit
# transaction is the statement's own) in the outer row, and the statement runs as a
# LATERAL subquery of it that refers to that row. OFFSET 0 keeps the subquery from being
# merged into the outer query, so the planner cannot scan a table of it first: the
# policies verify the context (their InitPlans) only when the subquery runs. Were that
# order ever broken, the policies would find no context and admit no row: it fails
# closed. tests/db/test_prepared.py pins both.
_IN_CONTEXT = (
    "SELECT harmony_read.* FROM (SELECT pg_catalog.set_config('app.context', {context}, true)"
    " AS context) AS harmony_context CROSS JOIN LATERAL (SELECT harmony_inner.* FROM ({sql})"
    " AS harmony_inner WHERE harmony_context.context IS NOT NULL OFFSET 0) AS harmony_read"
)

assert f"'{CONTEXT_SETTING}'" in _IN_CONTEXT

# A read that signs in first (a sign-in the request deferred, ``SignInCheck``): the same
# shape, the outer row being the sign-in's answer, one column ``digest``, from a
# statement that sets the tenant context itself (harmony_sign_in). The read's rows follow
# (``harmony_row`` tells them from the one row of a read that found none). The sign-in's
# parameters are renumbered after the read's (``$n`` are the only dollar signs of our
# compiled statements).
_SIGNING_IN = (
    "SELECT harmony_signed.digest, harmony_read.* FROM ({signed}) AS harmony_signed"
    " LEFT JOIN LATERAL (SELECT true AS harmony_row, harmony_inner.* FROM ({sql})"
    " AS harmony_inner WHERE harmony_signed.digest IS NOT NULL OFFSET 0) AS harmony_read ON true"
)
_PLACEHOLDER = re.compile(r"\$(\d+)")


class SignInChanged(Exception):
    """The account or its memberships are no longer what a deferred sign-in expected
    (``SignInCheck``): what the request did with them must be done again."""

    def __init__(self) -> None:
        super().__init__("the account's sign-in changed since it was remembered")


@dataclass(slots=True)
class SignInCheck:
    """A sign-in the request defers to its first read (PostgreSQL, a read-only request):
    it went ahead with what an earlier sign-in of the same account answered, and its
    answer stands only if the sign-in answers the same now.

    ``statement`` signs in (setting the tenant context, like every sign-in) and answers
    one value, a digest of everything the sign-in reads; ``expected`` is the earlier
    sign-in's. The request's first read outside a transaction carries it
    (``_SIGNING_IN``: one statement, so the read is bounded by the context the sign-in
    sets in the same snapshot); a request that made no such read sends it alone before
    it answers (app.db.session.RequestDB.confirm_sign_in). A different digest raises
    ``SignInChanged``, as does every read after it."""

    statement: Prepared[Any]
    params: dict[str, Any]
    expected: str
    confirmed: bool | None = None  # None: not sent yet

    def settle(self, digest: str | None) -> None:
        self.confirmed = digest is not None and digest == self.expected
        if not self.confirmed:
            raise SignInChanged

    def settled(self, records: Sequence[Any]) -> list[Any]:
        """The read's own records out of a ``_SIGNING_IN`` statement's, once its digest
        is the one expected."""
        self.settle(records[0][0] if records else None)
        return [r[2:] for r in records if r[1] is not None]


OUTSIDE_KEY = "harmony.outside_reads"


class OutsideReads:
    """Prepared reads of a read-only request, each outside any transaction (PostgreSQL).

    Under READ COMMITTED each statement reads its own snapshot whether or not a
    transaction surrounds it, so a request that only reads gains nothing from BEGIN and
    COMMIT but two round trips. Each read runs on a pooled connection in the
    statement's own implicit transaction, with the tenant context the request holds
    (``context()``: the signed setting, None before authentication has entered one)
    set by the statement itself (``_IN_CONTEXT``), or, while the request's sign-in is
    deferred (``check()``), signing in itself (``_SIGNING_IN``). Once the session has
    begun a transaction (a read through the ORM, a write), prepared reads run inside it
    instead, as everywhere else. The session carries this under ``OUTSIDE_KEY``
    (app.db.session.RequestDB)."""

    __slots__ = ("check", "context", "engine")

    def __init__(
        self,
        engine: AsyncEngine,
        context: Callable[[], str | None],
        check: Callable[[], SignInCheck | None],
    ) -> None:
        self.engine = engine
        self.context = context
        self.check = check

    async def run(self, statement: Prepared[R], params: dict[str, Any]) -> list[R]:
        check = self.check()
        if check is None or check.confirmed:
            return await _on_pooled_connection(self.engine, statement, params, self.context())
        if check.confirmed is False:
            raise SignInChanged
        return await _on_pooled_connection(self.engine, statement, params, check)


async def _on_pooled_connection(
    engine: AsyncEngine,
    statement: Prepared[R],
    params: dict[str, Any],
    context: str | SignInCheck | None,
) -> list[R]:
    """``statement`` on a pooled connection of its own, outside any transaction."""
    if not _on_asyncpg(engine.dialect):
        assert context is None, "no tenant context outside a transaction but on asyncpg"
        async with engine.connect() as conn:
            sync = conn.sync_connection
            assert sync is not None
            return await statement._run(_Link(None, conn, sync, conn.dialect, None), params)
    lane = lane_of(engine)  # kept connections (app.db.lane), or a checkout per read
    for attempt in (1, 2):
        if lane is not None:
            raw, since = await lane.take(engine)
        else:
            raw, since = await engine.raw_connection(), 0.0
        driver = raw.driver_connection
        broken = False
        try:
            link = _Link(None, None, engine.sync_engine, engine.dialect, driver)
            return await statement._run(link, params, context)
        except _CONNECTION_LOST as error:
            # The server ended this pooled connection (a restart, a failover, an idle
            # timeout), and likely the pool's others with it: they are all replaced, and
            # the read, which runs in no transaction, is run again once on a new one.
            invalidate_pool(raw, error)
            if lane is not None:
                lane.drop_all()  # kept from before now too
            broken = True
            if attempt == 2:
                raise
        except asyncio.CancelledError:
            # Cut off mid-read (the request's deadline): the driver is still cancelling
            # the statement, and the next request should not wait for that.
            broken = True
            raise
        finally:
            if not raw.is_valid:
                pass  # invalidated with its pool above (and so given back)
            elif broken or driver is None or driver.is_closed():
                raw.invalidate()  # the pool opens a new connection instead
            elif lane is not None:
                lane.give_back(engine, raw, since)  # kept for the next read, or pooled
            else:
                raw.close()  # back to the pool
    raise AssertionError("unreachable")


_MEMO: dict[Hashable, Prepared[Any]] = {}
# Statements' shapes are bounded by the code, but for the columns a query selects
# (narrowed reads): a client can make many. The oldest is forgotten past this many.
MAX_PREPARED = 4096


def prepared(key: Hashable, build: Builder, row: RowShape[R]) -> Prepared[R]:
    """The ``Prepared`` for ``key`` (a statement name plus whatever changes its text),
    built by ``build`` on first use; its rows are ``row``'s (the same for one ``key``)."""
    found: Prepared[R] | None = _MEMO.get(key)
    if found is None:
        found = _MEMO[key] = Prepared(repr(key), build, row)
        if len(_MEMO) > MAX_PREPARED:
            del _MEMO[next(iter(_MEMO))]
    return found


def any_of(dialect: str, column: sa.ColumnElement[Any], name: str) -> sa.ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``: one parameter whatever the
    list's length, so the statement's text never changes with it (PostgreSQL: an array
    and ``= ANY``; SQLite: a JSON array read by ``json_each``)."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    values = sa.func.json_each(sa.bindparam(name, type_=sa.JSON)).table_valued("value")
    return column.in_(sa.select(values.c.value))


class _NotRead:
    """The value of a column a narrowed read left out (``Related.narrowed``,
    ``Nested.narrowed``). A field that outputs it fails loudly (no scalar or enum
    serialises it, and it refuses to be turned into text or tested for truth), so a
    column missing from a field's declared reads is an error, never a wrong answer."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<column not read>"

    def _used(self) -> Any:
        raise TypeError("a column this read left out was used (declare it in the field's reads)")

    # graphql-core's String and ID output a value of any class of their own by str().
    __bool__ = __str__ = _used


NOT_READ: Any = _NotRead()

# Columns a narrowed read keeps whatever is selected: the row's id (objects are made and
# shared by it; an outer join's missing row is a NULL id) and its workspace (the field
# guards' and loaders' key).
ALWAYS_READ = frozenset({"id", "workspace_id"})


def _row_of(full: Any, read: Sequence[str]) -> Any:
    """The row class for rows of ``full`` (a named tuple class) that hold only the
    columns ``read``: the others are ``NOT_READ``, as class attributes, so whatever reads
    a row by name (``UserType.of``) reads either kind alike, and rows cost no more to
    make."""
    if list(read) == list(full._fields):
        return full
    return _with_unread(namedtuple(full.__name__, read), full._fields)


def _with_unread(row: Any, unread: Iterable[str]) -> Any:
    """``row`` (a named tuple class) answering ``NOT_READ`` for the names ``unread``:
    the columns of its row type a narrowed statement does not select."""
    missing = {k: NOT_READ for k in unread if k not in row._fields}
    if not missing:
        return row
    return type(row.__name__, (row,), {"__slots__": (), **missing})


def _getter(indices: Sequence[int]) -> Callable[[Any], tuple[Any, ...]]:
    """The values at ``indices``, as a tuple (even of one)."""
    if len(indices) == 1:
        (i,) = indices
        return lambda r: (r[i],)
    return itemgetter(*indices)


class Related:
    """A joined table's columns in a prepared read, labelled ``<name>__<column>``, and
    how to take them back out of the result as rows of their own.

    Lets one statement return a page with the rows it refers to (a member with its
    account and role), instead of a statement per relation. ``narrowed(keys)`` reads
    only some of the columns (what the query selects); the others are ``NOT_READ``."""

    def __init__(
        self,
        name: str,
        model: type[SQLModel],
        on: Callable[[Columns], sa.ColumnElement[bool]],
        *,
        outer: bool = False,
    ) -> None:
        """``on(columns)``: the join condition, given the joined table's columns;
        ``outer``: keep rows that have no such related row (a LEFT OUTER JOIN)."""
        self.name = name
        self.table = sa.alias(table_of(model), name)
        self.on = on(self.table.c)
        self.outer = outer
        self.keys = [c.key for c in self.table.columns]
        self.read = self.keys  # the columns the statement selects (narrowed: fewer)
        # What names this relation in a statement's text (its columns).
        self.key: Hashable = (name, tuple(self.read))
        self.row: Any = namedtuple(name, self.keys)  # type: ignore[misc]
        # Per columns of the rows it is taken from: (their getter, the id's index in
        # those rows, the class of the rows made of them).
        self._taken: dict[tuple[str, ...], tuple[Callable[[Any], Any], int, Any]] = {}
        self._narrowed: dict[frozenset[str], Related] = {}

    def narrowed(self, keys: Iterable[str]) -> Related:
        """This relation reading only the columns ``keys`` (and its id and workspace)."""
        wanted = (frozenset(keys) | ALWAYS_READ).intersection(self.keys)
        found = self._narrowed.get(wanted)
        if found is None:
            found = self
            read = [k for k in self.keys if k in wanted]
            if read != self.keys:
                found = copy.copy(self)
                found.read, found._taken, found._narrowed = read, {}, {}
                found.key = (self.name, tuple(read))
            self._narrowed[wanted] = found
        return found

    def joined(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        """``stmt`` joined with this table, its columns added under their labels."""
        join = stmt.outerjoin if self.outer else stmt.join
        columns = [self.table.c[k].label(f"{self.name}__{k}") for k in self.read]
        return join(self.table, self.on).add_columns(*columns)

    def of(self, rows: Sequence[Any]) -> list[Any]:
        """The related row of each row (None where an outer join found none): of the
        columns those rows carry (a narrowed read's, or a narrowed nested row's)."""
        if not rows:
            return []
        fields = rows[0]._fields  # a named tuple's
        found = self._taken.get(fields)
        if found is None:
            present = [k for k in self.keys if f"{self.name}__{k}" in fields]
            indices = [fields.index(f"{self.name}__{k}") for k in present]
            pk = fields.index(f"{self.name}__id")
            found = self._taken[fields] = (_getter(indices), pk, _row_of(self.row, present))
        take, pk, row = found
        new = tuple.__new__
        return [None if r[pk] is None else new(row, take(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class ToOne:
    """The one row of another table each nested row refers to (its ``foreign_key``), its
    columns labelled ``<prefix>__<column>``, read through ``join`` (an outer join).

    A read that needs nothing of that row but its id reads the foreign key in its place,
    without the join. That is the same answer only where the join finds a row for every
    foreign key that is set, and the reader may see it: a foreign key constraint, and on
    PostgreSQL an account a workspace's rows refer to being known to that workspace
    (migration 0009), make it so. ``tests/db/test_nested_reads.py`` holds the two reads
    to each other."""

    prefix: str
    foreign_key: sa.ColumnElement[Any]
    join: Callable[[sa.Select[Any]], sa.Select[Any]]

    def needs_join(self, read: Iterable[str]) -> bool:
        mine = {k for k in read if k.startswith(f"{self.prefix}__")}
        return bool(mine - {f"{self.prefix}__id"})

    def id_instead(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """``column``, or the foreign key in place of the joined row's id."""
        key = f"{self.prefix}__id"
        return self.foreign_key.label(key) if str(column.key) == key else column


class Nested:
    """The rows related to each row of a prepared read, as one column of the same
    statement (a member's teams with the member), in the order of their first column.

    They come as a JSON array of arrays (``json_agg`` on PostgreSQL, which the driver's
    json codec decodes; ``json_group_array`` on SQLite), put in order here: far cheaper
    to decode than arrays of records, and a few items sorted here cost less than an
    ordered aggregate, which PostgreSQL (15) sorts with a sort of its own per row. Each
    value then goes through what its column's type needs to be what a column of the
    statement itself would give: timestamps from JSON's ISO strings (UTC), enums by
    value (the type's result processor), on SQLite its own processors. ``columns``: the
    nested rows' columns (labelled where names would clash), the first unique and
    ascending; ``narrow(select)``: that select with its FROM and the condition that ties
    it to the outer statement's row (a correlated subquery). ``narrowed(keys)`` reads
    only some of the columns, as ``Related.narrowed`` does.

    ``to_one``: a table the nested rows are joined to (a participant's account), whose
    columns are labelled ``<prefix>__<column>``. A read that keeps only its id leaves
    the join out and reads the foreign key instead (``ToOne``)."""

    def __init__(
        self,
        name: str,
        columns: Sequence[sa.ColumnElement[Any]],
        narrow: Callable[[sa.Select[Any]], sa.Select[Any]],
        *,
        to_one: ToOne | None = None,
    ) -> None:
        self.name = name
        self.columns = columns  # the columns the statement selects (narrowed: fewer)
        self.keys = [str(c.key) for c in columns]
        # What names this relation in a statement's text (its columns).
        self.key: Hashable = (name, tuple(self.keys))
        self.narrow = narrow
        self.to_one = to_one  # None once narrowed to its id alone: no join
        self.row: Any = namedtuple(name, self.keys)  # type: ignore[misc]
        self._processors: dict[str, tuple[tuple[int, Callable[[Any], Any]], ...]] = {}
        self._narrowed: dict[frozenset[str], Nested] = {}

    def narrowed(self, keys: Iterable[str]) -> Nested:
        """These nested rows reading only the columns ``keys`` (by their labels; and the
        first column, which orders them, and the id and workspace)."""
        wanted = (frozenset(keys) | ALWAYS_READ | {self.keys[0]}).intersection(self.keys)
        found = self._narrowed.get(wanted)
        if found is None:
            found = self
            columns = [c for c in self.columns if str(c.key) in wanted]
            if len(columns) < len(self.columns):
                found = copy.copy(self)
                found.columns, found._processors, found._narrowed = columns, {}, {}
                read = [str(c.key) for c in columns]
                found.key, found.row = (self.name, tuple(read)), _row_of(self.row, read)
                if self.to_one is not None and not self.to_one.needs_join(read):
                    found.to_one = None
                    found.columns = [self.to_one.id_instead(c) for c in columns]
                    found.key = (self.name, tuple(read), "no join")
            self._narrowed[wanted] = found
        return found

    def column(self, dialect: str) -> sa.ColumnElement[Any]:
        aggregate: sa.ColumnElement[Any]
        if dialect == "postgresql":
            aggregate = sa.func.json_agg(sa.func.json_build_array(*self.columns))
        else:
            aggregate = sa.func.json_group_array(sa.func.json_array(*self.columns))
        select = self.narrow(sa.select(aggregate))
        if self.to_one is not None:
            select = self.to_one.join(select)
        # The statement passes the driver's value on as it is; ``of`` decodes it.
        nested = sa.type_coerce(select.scalar_subquery(), sa.types.NullType)
        return nested.label(self.name)

    def _processed(self, dialect: str) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
        found = self._processors.get(dialect)
        if found is None:
            impl = _DIALECTS[dialect]()
            processors = [_json_processor(c.type, impl) for c in self.columns]
            found = tuple((i, p) for i, p in enumerate(processors) if p is not None)
            self._processors[dialect] = found
        return found

    def of(self, rows: Sequence[Any]) -> list[list[Any]]:
        """Each row's nested rows (named tuples)."""
        out: list[list[Any]] = []
        for row in rows:
            value = getattr(row, self.name)
            if value is None:  # no related row: the aggregate of nothing is NULL
                out.append([])
            elif isinstance(value, str):  # SQLite's JSON text
                out.append(self._made(_ordered(orjson.loads(value)), "sqlite"))
            else:  # PostgreSQL's json, decoded by the driver
                out.append(self._made(_ordered(value), "postgresql"))
        return out

    def _made(self, items: Sequence[Sequence[Any]], dialect: str) -> list[Any]:
        new, row, processors = tuple.__new__, self.row, self._processed(dialect)
        if not processors:
            return [new(row, item) for item in items]
        made = []
        for item in items:
            values = list(item)
            for i, process in processors:
                if values[i] is not None:
                    values[i] = process(values[i])
            made.append(new(row, values))
        return made


_first = itemgetter(0)


def _ordered(items: list[Any]) -> list[Any]:
    """Nested rows in the order of their first column (unique)."""
    if len(items) > 1:
        items.sort(key=_first)
    return items


def _utc_from_iso(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _json_processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What turns a column's value read from JSON into the column's Python value."""
    base = type_.impl_instance if isinstance(type_, sa.TypeDecorator) else type_
    if dialect.name == "postgresql" and isinstance(base, sa.DateTime):
        return _utc_from_iso  # JSON renders timestamptz as ISO 8601 with its offset
    if isinstance(base, sa.JSON):
        return None  # decoded with the rest
    return _result_processor(type_, dialect)


def _sqlite_dialect() -> Dialect:
    from sqlalchemy.dialects.sqlite import aiosqlite

    return aiosqlite.dialect()  # type: ignore[no-any-return,no-untyped-call,unused-ignore]


def _postgresql_dialect() -> Dialect:
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    return pg_asyncpg.dialect()  # type: ignore[no-any-return,no-untyped-call,unused-ignore]


# The dialects whose result processors decode nested rows (by the form they arrive in).
_DIALECTS: dict[str, Callable[[], Dialect]] = {
    "postgresql": _postgresql_dialect,
    "sqlite": _sqlite_dialect,
}
