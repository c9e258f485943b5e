"""Keyset pagination over a stable order, both ways, independent of GraphQL.

A ``Window`` is which part of an ordered list a page is: ``size`` rows from the start
(forward, ``first``) or from the end (backward, ``last``) of the rows strictly between
the keys ``after`` and ``before`` (each optional). A backward page reads the list in the
reverse order, ``size + 1`` rows like a forward one, and turns them around: one
statement either way, always returned in the list's own order.

What a page's own statement cannot see is the far side of a cursor it started from
(rows at or before ``after`` when going forward, at or after ``before`` when going
back): ``Page.has_previous``/``has_next`` are then None, and ``Page.beyond`` answers it
with a statement of its own, run only when a client asks (``pageInfo``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Generic, Literal, TypeVar, cast, overload

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from app.db.prepared import ALWAYS_READ, Nested, Related, prepared
from app.db.rows import RowShape
from app.domain.rows import FOUND, TOTAL

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=sa.Select[Any])
Key = tuple[Any, ...]
# "earlier": rows at or before the ``after`` key; "later": at or after the ``before`` key.
Side = Literal["earlier", "later"]
Beyond = Callable[[AsyncSession, Side], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Window:
    """Which part of a list a page is (see the module's docstring). Hashable: loaders
    batch the pages of many parents that share one window."""

    size: int
    after: Key | None = None
    before: Key | None = None
    backward: bool = False

    def check(self, order: Sequence[object]) -> None:
        for key in (self.after, self.before):
            if key is not None and len(key) != len(order):
                raise ValueError("cursor does not fit this list")


async def _never(_session: AsyncSession, _side: Side) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]  # in the list's order, whichever way the page was read
    keys: list[Key]  # the sort key of each item, for cursors
    # Whether rows follow the last item / precede the first one; None: beyond a cursor
    # the page started from, which ``beyond`` reads.
    has_next: bool | None
    has_previous: bool | None = False
    # Rows the page's statement joined, per relation, aligned with items (app.db.prepared.Related).
    related: dict[str, list[Any]] = field(default_factory=dict)
    beyond: Beyond = _never

    def replaced(self, items: list[Any]) -> Page[Any]:
        """The same page with each item made into another (e.g. a view of the row)."""
        return Page(items, self.keys, self.has_next, self.has_previous, self.related, self.beyond)


Order = Sequence[sa.ColumnElement[Any]]  # a list's order: columns, the last one unique
Bounds = tuple[sa.Tuple | None, sa.Tuple | None]  # the SQL of the after and before keys


def _row(order: Order) -> sa.Tuple:
    return sa.tuple_(*order)


def _follows(order: Order, bound: sa.Tuple, descending: bool) -> sa.ColumnElement[bool]:
    """Rows after ``bound`` in the list's order."""
    return _row(order) < bound if descending else _row(order) > bound


def _precedes(order: Order, bound: sa.Tuple, descending: bool) -> sa.ColumnElement[bool]:
    """Rows before ``bound`` in the list's order."""
    return _row(order) > bound if descending else _row(order) < bound


def _side(order: Order, bound: sa.Tuple, descending: bool, side: Side) -> sa.ColumnElement[bool]:
    """Rows at or before (``earlier``) / at or after (``later``) ``bound``."""
    row = _row(order)
    if (side == "earlier") != descending:
        return row <= bound
    return row >= bound


def _literal(key: Key, order: Order) -> sa.Tuple:
    return sa.tuple_(*(sa.literal(v, type_=c.type) for v, c in zip(key, order, strict=True)))


def _literals(window: Window, order: Order) -> Bounds:
    """The window's cursors as SQL literals (None: no such cursor)."""
    after, before = window.after, window.before
    return (
        None if after is None else _literal(after, order),
        None if before is None else _literal(before, order),
    )


def _bound(name: str, order: Order) -> sa.Tuple:
    return sa.tuple_(*(sa.bindparam(f"{name}_{i}", type_=c.type) for i, c in enumerate(order)))


def _key_name(column: sa.ColumnElement[Any]) -> str:
    """The name a row of the select carries the column's value under."""
    key = column.key
    assert key is not None, f"an order column without a name: {column!r}"
    return key


def windowed(stmt: S, order: Order, window: Window, descending: bool, bounds: Bounds) -> S:
    """``stmt`` narrowed to the rows between the window's cursors (``bounds``: the SQL
    of the after and before keys, None where the window has no such cursor) and ordered
    the way the page reads them."""
    after, before = bounds
    if after is not None:
        stmt = stmt.where(_follows(order, after, descending))
    if before is not None:
        stmt = stmt.where(_precedes(order, before, descending))
    reverse = descending != window.backward
    return stmt.order_by(*(c.desc() if reverse else c.asc() for c in order))


def _flags(window: Window, more: bool) -> tuple[bool | None, bool | None]:
    """(has_next, has_previous) as far as the page's own rows tell: ``more`` rows lie
    beyond the page in the direction it was read."""
    if window.backward:
        return (None if window.before is not None else False), (
            True if more else None if window.after is not None else False
        )
    return (True if more else None if window.before is not None else False), (
        None if window.after is not None else False
    )


def page_of(
    rows: list[T],
    window: Window,
    order: Order,
    related: Sequence[Related | Nested] = (),
    beyond: Beyond = _never,
) -> Page[T]:
    """``window.size + 1`` rows read (or fewer) in the window's direction: the page in
    the list's order, what lies beyond it, the cursor keys."""
    more = len(rows) > window.size
    rows = rows[: window.size]
    if window.backward:
        rows.reverse()
    key_of = attrgetter(*(_key_name(c) for c in order))
    keys = [key_of(r) for r in rows] if len(order) > 1 else [(key_of(r),) for r in rows]
    joined = {r.name: r.of(rows) for r in related}
    has_next, has_previous = _flags(window, more)
    return Page(rows, keys, has_next, has_previous, joined, beyond)


def page_of_whole(rows: Sequence[Any], key: Callable[[Any], Key], window: Window) -> Page[Any]:
    """The page ``window`` gives of a list already read whole, in its (ascending) order of
    ``key``: the same page, and the same flags, a statement would give, without one."""
    keys = [key(r) for r in rows]
    earlier = 0 if window.after is None else bisect_right(keys, window.after)  # at or before
    later = len(keys) if window.before is None else bisect_left(keys, window.before)
    inside = range(earlier, max(earlier, later))
    more = len(inside) > window.size
    chosen = inside[-window.size :] if window.backward else inside[: window.size]
    has_next, has_previous = _flags(window, more)
    if has_next is None:  # rows at or after `before`
        has_next = later < len(keys)
    if has_previous is None:  # rows at or before `after`
        has_previous = earlier > 0
    return Page([rows[i] for i in chosen], [keys[i] for i in chosen], has_next, has_previous)


@overload
async def fetch_page(
    session: AsyncSession,
    stmt: SelectOfScalar[T],
    order: Order,
    window: Window,
    *,
    descending: bool = False,
) -> Page[T]: ...


@overload
async def fetch_page(
    session: AsyncSession,
    stmt: sa.Select[Any],
    order: Order,
    window: Window,
    *,
    descending: bool = False,
) -> Page[Any]: ...  # a lean select's rows (app.domain.tenant.lean)


async def fetch_page(
    session: AsyncSession,
    stmt: sa.Select[Any],
    order: Order,
    window: Window,
    *,
    descending: bool = False,
) -> Page[Any]:
    """The rows of ``stmt`` in ``window`` of ``order``; one statement.

    ``order`` must end with a unique column so the order is total. Reads one row
    more than asked to learn whether more lie that way.
    """
    window.check(order)
    paged = windowed(stmt, order, window, descending, _literals(window, order))
    paged = paged.limit(window.size + 1)
    result = await session.execute(paged)
    # An ORM entity select yields entities; a lean one (app.domain.tenant.lean) yields rows.
    descriptions = paged.column_descriptions
    entity = len(descriptions) == 1 and isinstance(descriptions[0]["expr"], type)
    rows = list(result.scalars().all() if entity else result.all())

    async def beyond(s: AsyncSession, side: Side) -> bool:
        key = window.after if side == "earlier" else window.before
        assert key is not None
        found = sa.select(stmt.where(_side(order, _literal(key, order), descending, side)).exists())
        return bool(await s.scalar(found))

    return page_of(rows, window, order, beyond=beyond)


# The key of ``prepared_page``'s ``reads`` that names the columns of the page's own rows.
OWN_ROW = ""


async def prepared_page(
    session: AsyncSession,
    key: Hashable,
    build: Callable[[str], sa.Select[Any]],
    order: Order,
    window: Window,
    *,
    descending: bool = False,
    row: RowShape[R],
    related: Sequence[Related] = (),
    nested: Sequence[Nested] = (),
    reads: Mapping[str, Iterable[str]] | None = None,
    **params: Any,
) -> Page[R]:
    """``fetch_page`` for the hot lists, as a prepared statement (app.db.prepared):
    ``build(dialect)`` gives the filtered select with ``bindparam``s for ``params``;
    ``key`` names that shape (it must change whenever the statement's text would).
    Rows are named tuples of the selected columns; each ``related`` table is joined into
    the same statement and its rows are in ``Page.related`` under its name, and so are
    the lists of each ``nested`` relation (a column of the same statement). ``reads``:
    the only columns to read of a relation, by its name (``narrowed``; the others are
    ``NOT_READ``), and under ``OWN_ROW`` of the rows' own table (their id, workspace and
    order columns always). A backward page is the same statement read the other way."""
    window.check(order)
    own: frozenset[str] | None = None
    if reads:
        related = [r.narrowed(reads[r.name]) if r.name in reads else r for r in related]
        nested = [n.narrowed(reads[n.name]) if n.name in reads else n for n in nested]
        if OWN_ROW in reads:
            own = frozenset(reads[OWN_ROW]) | ALWAYS_READ | {_key_name(c) for c in order}
            row = row.reading(own)

    def bounds() -> Bounds:  # built only when a statement is compiled
        return (
            None if window.after is None else _bound("after", order),
            None if window.before is None else _bound("before", order),
        )

    def paged(dialect: str) -> sa.Select[Any]:
        stmt = build(dialect)
        if own is not None:
            stmt = stmt.with_only_columns(*(c for c in stmt.selected_columns if c.key in own))
        for table in related:
            stmt = table.joined(stmt)
        stmt = stmt.add_columns(*(n.column(dialect) for n in nested))
        return windowed(stmt, order, window, descending, bounds()).limit(
            sa.bindparam("page_limit", type_=sa.Integer)
        )

    for name, cursor in (("after", window.after), ("before", window.before)):
        if cursor is not None:
            params.update({f"{name}_{i}": v for i, v in enumerate(cursor)})
    parts: tuple[Related | Nested, ...] = (*related, *nested)
    joined = tuple(r.key for r in parts)  # their columns too (narrowed reads)
    shape = (window.after is not None, window.before is not None, window.backward)
    statement = prepared((key, joined, shape, descending, own), paged, row)
    rows = await statement.all(session, page_limit=window.size + 1, **params)

    async def beyond(s: AsyncSession, side: Side) -> bool:
        def found(dialect: str) -> sa.Select[Any]:
            bound = _bound("after" if side == "earlier" else "before", order)
            condition = _side(order, bound, descending, side)
            return sa.select(build(dialect).where(condition).exists().label("found"))

        read = prepared(("beyond", key, side, descending), found, FOUND)
        answer = await read.first(s, **params)
        return bool(answer and answer.found)

    return page_of(rows, window, order, parts, beyond)


async def grouped_pages(
    session: AsyncSession,
    stmt: sa.Select[Any],
    parent: sa.ColumnElement[int],
    order: Order,
    window: Window,
    parents: Sequence[int],
    row: RowShape[R],
) -> dict[int, Page[R]]:
    """One page of the rows of ``stmt`` (a lean select) for each of ``parents`` (values of
    its column ``parent``), all in one statement: a window function numbers each parent's
    rows in the page's direction and keeps ``size + 1`` of each, so a list of parents
    with their pages costs the same whatever the number of parents. Rows come back as
    rows of the selected columns, which must be ``row``'s. What lies beyond a cursor (``Page.beyond``) is read
    per parent, when asked: a nested list is rarely paged from a cursor for many
    parents at once."""
    window.check(order)
    bounds = _literals(window, order)
    reverse = window.backward  # the children lists are in ascending order
    rank = (
        sa.func.row_number()
        .over(partition_by=parent, order_by=[c.desc() if reverse else c.asc() for c in order])
        .label("rank_in_parent")
    )
    inner = windowed(stmt.where(parent.in_(list(parents))), order, window, False, bounds).order_by(
        None
    )
    ranked = inner.add_columns(parent.label("parent_key"), rank).subquery()
    outer = (
        sa.select(ranked)
        .where(ranked.c.rank_in_parent <= window.size + 1)
        .order_by(ranked.c.parent_key, ranked.c.rank_in_parent)
    )
    row.check(ranked.c.keys(), "grouped_pages")
    found: dict[int, list[sa.Row[Any]]] = {p: [] for p in parents}
    for r in (await session.execute(outer)).all():
        found[r.parent_key].append(r)

    def beyond_of(parent_id: int) -> Beyond:
        async def beyond(s: AsyncSession, side: Side) -> bool:
            key = window.after if side == "earlier" else window.before
            assert key is not None
            condition = _side(order, _literal(key, order), False, side)
            return bool(
                await s.scalar(sa.select(stmt.where(parent == parent_id, condition).exists()))
            )

        return beyond

    # SQLAlchemy rows (attribute access) of the columns checked above: ``row``'s.
    return {
        p: page_of(cast("list[R]", rows), window, order, beyond=beyond_of(p))
        for p, rows in found.items()
    }


async def grouped_counts(
    session: AsyncSession,
    stmt: sa.Select[Any],
    parent: sa.ColumnElement[int],
    parents: Sequence[int],
) -> dict[int, int]:
    """How many rows of ``stmt`` each of ``parents`` has (its column ``parent``), in one
    statement."""
    rows = stmt.where(parent.in_(list(parents))).add_columns(parent.label("parent_key"))
    sub = rows.order_by(None).subquery()
    counted_ = sa.select(sub.c.parent_key, sa.func.count()).group_by(sub.c.parent_key)
    return {p: n for p, n in (await session.execute(counted_)).all()}


async def prepared_count(
    session: AsyncSession, key: Hashable, build: Callable[[str], sa.Select[Any]], **params: Any
) -> int:
    """How many rows ``build(dialect)`` selects, as a prepared statement (see
    ``prepared_page`` for ``key`` and ``params``)."""
    statement = prepared(("count", key), lambda dialect: counted(build(dialect)), TOTAL)
    return int((await statement.all(session, **params))[0].total)


def counted(stmt: sa.Select[Any]) -> sa.Select[Any]:
    """``SELECT count(*) AS total`` of the rows ``stmt`` selects."""
    return sa.select(sa.func.count().label("total")).select_from(stmt.order_by(None).subquery())


async def count(session: AsyncSession, stmt: sa.Select[Any]) -> int:
    total = await session.scalar(counted(stmt))
    return int(total or 0)
