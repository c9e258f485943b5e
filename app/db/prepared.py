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
  statement; ``_driver_transaction`` starts it first if nothing has yet, so a prepared
  read always runs inside the request's transaction and sees its tenant context
  (app.db.tenant). ``tests/test_prepared.py`` pins that on a real server.
- SQLite: ``exec_driver_sql`` on the same connection.

Rows are named tuples (``row.name``): read paths only; a service that changes a row
loads the ORM entity. Statements whose text depends on the request's shape (a filter
present or not) are one ``Prepared`` per shape: ``prepared(key, build)`` memoises.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

Builder = Callable[[str], sa.Select[Any]]  # dialect name -> statement


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[str, ...]  # positional order
    defaults: dict[str, Any]  # values bound in the statement itself (literals)
    bind: tuple[Callable[[Any], Any] | None, ...]
    result: tuple[Callable[[Any], Any] | None, ...] | None  # None: no processing at all
    row: Any  # named tuple class of the selected columns


class Prepared:
    __slots__ = ("_build", "_compiled", "name")

    def __init__(self, name: str, build: Builder) -> None:
        self.name = name
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        stmt = self._build(dialect.name)
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = [compiled.binds[n] for n in names]
        result = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in stmt.selected_columns
        )
        keys = [c.key for c in stmt.selected_columns]
        return _Compiled(
            sql=compiled.string,
            params=names,
            defaults={n: b.effective_value for n, b in zip(names, binds, strict=True)},
            bind=tuple(b.type.dialect_impl(dialect).bind_processor(dialect) for b in binds),
            result=result if any(result) else None,
            row=namedtuple("Row", [str(k) for k in keys], rename=True),
        )

    def compiled(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = self._compile(dialect)
        return found

    async def all(self, session: AsyncSession, **params: Any) -> list[Any]:
        conn = await session.connection()
        c = self.compiled(conn.dialect)
        args = []
        for name, process in zip(c.params, c.bind, strict=True):
            value = params[name] if name in params else c.defaults[name]
            args.append(value if process is None or value is None else process(value))
        if conn.dialect.name == "postgresql":
            raw = await conn.get_raw_connection()
            await _driver_transaction(raw.dbapi_connection)
            # Listeners of the engine's statement events (statement counts in tests and
            # the benchmark, tracing) see these statements too; cursor and context are None.
            sync = conn.sync_connection
            assert sync is not None
            sync.dispatch.before_cursor_execute(sync, None, c.sql, args, None, False)
            records: Sequence[Any] = await raw.driver_connection.fetch(c.sql, *args)  # type: ignore[union-attr]
            sync.dispatch.after_cursor_execute(sync, None, c.sql, args, None, False)
        else:
            records = (await conn.exec_driver_sql(c.sql, tuple(args))).all()
        make = c.row._make
        if c.result is None:
            return [make(r) for r in records]
        processors = c.result
        return [
            make(
                [v if p is None or v is None else p(v) for p, v in zip(processors, r, strict=True)]
            )
            for r in records
        ]

    async def first(self, session: AsyncSession, **params: Any) -> Any | None:
        rows = await self.all(session, **params)
        return rows[0] if rows else None


async def _driver_transaction(adapter: Any) -> None:
    """Begin the driver's transaction now if SQLAlchemy has not yet (it does so lazily,
    on its first statement), so this statement belongs to the request's transaction."""
    if adapter._transaction is None:
        await adapter._start_transaction()


_MEMO: dict[Hashable, Prepared] = {}


def prepared(key: Hashable, build: Builder) -> Prepared:
    """The ``Prepared`` for ``key`` (a statement name plus whatever changes its text),
    built by ``build`` on first use."""
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO[key] = Prepared(repr(key), build)
    return found


def any_of(dialect: str, column: Any, name: str) -> sa.ColumnElement[bool]:
    """``column`` is one of the list bound as ``name``: one parameter whatever the
    list's length, so the statement's text never changes with it (PostgreSQL: an array
    and ``= ANY``; SQLite: a JSON array read by ``json_each``)."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))  # type: ignore[no-any-return]
    values = sa.func.json_each(sa.bindparam(name, type_=sa.JSON)).table_valued("value")
    return column.in_(sa.select(values.c.value))  # type: ignore[no-any-return]
