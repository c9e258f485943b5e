"""Keyset pagination over a stable order, independent of GraphQL."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.db.prepared import Nested, Related, prepared

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    keys: list[tuple[Any, ...]]  # the sort key of each item, for cursors
    has_next: bool
    # Rows the page's statement joined, per relation, aligned with items (app.db.prepared.Related).
    related: dict[str, list[Any]] = field(default_factory=dict)


async def fetch_page(
    session: AsyncSession,
    stmt: SelectOfScalar[T],
    order: Sequence[sa.ColumnElement[Any]],
    *,
    first: int,
    after: tuple[Any, ...] | None,
    descending: bool = False,
) -> Page[T]:
    """Rows of ``stmt`` after the key ``after`` in ``order``; one statement.

    ``order`` must end with a unique column so the order is total. Reads one row
    more than asked to learn whether another page exists.
    """
    if after is not None:
        if len(after) != len(order):
            raise ValueError("cursor does not fit this list")
        row = sa.tuple_(*order)
        bound = sa.tuple_(*(sa.literal(v, type_=c.type) for v, c in zip(after, order, strict=True)))
        stmt = stmt.where(row < bound if descending else row > bound)
    stmt = stmt.order_by(*(c.desc() if descending else c.asc() for c in order)).limit(first + 1)
    result = await session.execute(stmt)
    # An ORM entity select yields entities; a lean one (app.domain.tenant.lean) yields rows.
    descriptions = stmt.column_descriptions
    entity = len(descriptions) == 1 and isinstance(descriptions[0]["expr"], type)
    rows = list(result.scalars().all() if entity else result.all())
    return page_of(rows, first, order)


async def prepared_page(
    session: AsyncSession,
    key: Hashable,
    build: Callable[[str], sa.Select[Any]],
    order: Sequence[sa.ColumnElement[Any]],
    *,
    first: int,
    after: tuple[Any, ...] | None,
    descending: bool = False,
    related: Sequence[Related] = (),
    nested: Sequence[Nested] = (),
    **params: Any,
) -> Page[Any]:
    """``fetch_page`` for the hot lists, as a prepared statement (app.db.prepared):
    ``build(dialect)`` gives the filtered select with ``bindparam``s for ``params``;
    ``key`` names that shape (it must change whenever the statement's text would).
    Rows are named tuples of the selected columns; each ``related`` table is joined into
    the same statement and its rows are in ``Page.related`` under its name, and so are
    the lists of each ``nested`` relation (a column of the same statement)."""

    def paged(dialect: str) -> sa.Select[Any]:
        stmt = build(dialect)
        for table in related:
            stmt = table.joined(stmt)
        stmt = stmt.add_columns(*(n.column(dialect) for n in nested))
        if after is not None:
            bound = sa.tuple_(
                *(sa.bindparam(f"after_{i}", type_=c.type) for i, c in enumerate(order))
            )
            row = sa.tuple_(*order)
            stmt = stmt.where(row < bound if descending else row > bound)
        return stmt.order_by(*(c.desc() if descending else c.asc() for c in order)).limit(
            sa.bindparam("page_limit", type_=sa.Integer)
        )

    if after is not None:
        if len(after) != len(order):
            raise ValueError("cursor does not fit this list")
        params.update({f"after_{i}": v for i, v in enumerate(after)})
    joined = tuple(r.name for r in (*related, *nested))
    statement = prepared((key, joined, after is not None, descending), paged)
    rows = await statement.all(session, page_limit=first + 1, **params)
    return page_of(rows, first, order, (*related, *nested))


def page_of(
    rows: list[Any],
    first: int,
    order: Sequence[sa.ColumnElement[Any]],
    related: Sequence[Related | Nested] = (),
) -> Page[Any]:
    """``first + 1`` rows read (or fewer) in ``order``: the page, whether another follows,
    the cursor keys."""
    has_next = len(rows) > first
    rows = rows[:first]
    key_of = attrgetter(*(c.key for c in order))
    keys = [key_of(r) for r in rows] if len(order) > 1 else [(key_of(r),) for r in rows]
    joined = {r.name: r.of(rows) for r in related}
    return Page(items=rows, keys=keys, has_next=has_next, related=joined)


async def prepared_count(
    session: AsyncSession, key: Hashable, build: Callable[[str], sa.Select[Any]], **params: Any
) -> int:
    """How many rows ``build(dialect)`` selects, as a prepared statement (see
    ``prepared_page`` for ``key`` and ``params``)."""
    statement = prepared(("count", key), lambda dialect: counted(build(dialect)))
    return int((await statement.all(session, **params))[0].total)


def counted(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """``SELECT count(*) AS total`` of the rows ``stmt`` selects."""
    return sa.select(sa.func.count().label("total")).select_from(stmt.order_by(None).subquery())


async def count(session: AsyncSession, stmt: SelectOfScalar[Any]) -> int:
    total = await session.scalar(counted(stmt))
    return int(total or 0)
