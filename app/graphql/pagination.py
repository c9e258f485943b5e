"""Relay connections over keyset pages, both ways: opaque, sealed cursors; ``first`` or
``last`` 1-100; ``after`` and ``before``."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Generic, TypeVar

import orjson
import strawberry
from aiodataloader import DataLoader
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from app.auth.keys import CURSOR_KEY, derived_key
from app.domain.bound import Reads
from app.domain.pagination import Page, Side, Window
from app.graphql.errors import BadUserInput

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")
N = TypeVar("N")

# The arguments of every connection field, described once.
First = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "How many items from the start, 1-100 (default 20 when `last` is omitted too). "
            "The cost estimate counts `first` (or `last`) items, 100 when both are omitted: "
            "pass one to pay only for what you read."
        )
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Only items after this cursor: the `pageInfo.endCursor` of the previous page of "
            "this same list, for the next page. Omit it for the first page."
        )
    ),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "How many items from the end, 1-100: the list's last items, or with `before` "
            "those just before that cursor (paging backwards). Items still come in the "
            "list's order. Not together with `first` (`BAD_USER_INPUT`)."
        )
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(
        description=(
            "Only items before this cursor: the `pageInfo.startCursor` of a page of this "
            "same list, with `last` for the page before it."
        )
    ),
]


def page_window(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    shape: tuple[type, ...],
    *,
    kind: str,
) -> Window:
    """The page a connection's arguments ask for; BAD_USER_INPUT for sizes out of range,
    ``first`` with ``last``, or a cursor that is not one of this list (``kind``, with
    keys of ``shape``)."""
    if first is not None and last is not None:
        raise BadUserInput(
            "Pass `first` (with `after`, paging forwards) or `last` (with `before`, paging "
            "backwards), not both.",
            argument="last",
        )
    backward = last is not None
    return Window(
        size=page_size(last, "last") if backward else page_size(first),
        after=decode_cursor(after, shape, kind=kind),
        before=decode_cursor(before, shape, kind=kind, argument="before"),
        backward=backward,
    )


def page_size(size: int | None, argument: str = "first") -> int:
    if size is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadUserInput(
            f"`{argument}` must be between 1 and {MAX_PAGE_SIZE}, got {size}.", argument=argument
        )
    return size


# Keys are bound as SQL parameters: ints must fit the 32-bit INTEGER key columns and
# datetimes must be timezone-aware and representable in UTC, or the database driver
# would fail the statement (a 500) instead of the cursor being refused (a 400).
_INT_RANGE = range(-(2**31), 2**31)

# A cursor is the JSON of [kind, *key], sealed with AES-SIV (deterministic authenticated
# encryption, under the process's cursor key: app/auth/keys.py): opaque, since a key
# holds primary keys from a sequence all workspaces share, and unforgeable, so a client
# can neither edit one nor make one up. Our payloads are far shorter than this bound; a
# longer cursor is refused before it is decoded.
_MAX_CURSOR_PAYLOAD = 150
_SIV_TAG_BYTES = 16
MAX_CURSOR_LENGTH = -(-(_MAX_CURSOR_PAYLOAD + _SIV_TAG_BYTES) * 4 // 3)  # unpadded base64


@lru_cache(maxsize=1)
def _cursor_cipher() -> AESSIV:
    return AESSIV(derived_key(CURSOR_KEY))  # 32 bytes: AES-128-SIV (RFC 5297)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_cursor(kind: str, key: tuple[Any, ...]) -> str:
    """``kind`` names the list (e.g. "Member"): a cursor of one list is refused by another
    even when both are ordered by keys of the same shape."""
    parts = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]
    payload = orjson.dumps([kind, *parts])
    if len(payload) > _MAX_CURSOR_PAYLOAD:  # it would be refused when it comes back
        raise ValueError(f"a {kind} cursor of {len(payload)} bytes is too long")
    return _b64(_cursor_cipher().encrypt(payload, None))


def _cursor_datetime(value: Any) -> datetime:
    moment = datetime.fromisoformat(value["t"])
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    moment.astimezone(UTC)  # OverflowError at the edges of the calendar
    return moment


def decode_cursor(
    cursor: str | None, shape: tuple[type, ...], *, kind: str, argument: str = "after"
) -> tuple[Any, ...] | None:
    """The key a cursor carries; BAD_USER_INPUT unless it is a cursor of this list."""
    if cursor is None:
        return None
    bad = BadUserInput(f"`{argument}` is not a cursor of this list.", argument=argument)
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise bad
    try:
        sealed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if _b64(sealed) != cursor:  # another spelling of the same bytes: not one we issued
        raise bad
    try:
        parts = orjson.loads(_cursor_cipher().decrypt(sealed, None))
    except (InvalidTag, ValueError) as exc:
        raise bad from exc
    if not isinstance(parts, list) or len(parts) != len(shape) + 1 or parts[0] != kind:
        raise bad
    key: list[Any] = []
    for value, expected in zip(parts[1:], shape, strict=True):
        if expected is datetime:
            try:
                key.append(_cursor_datetime(value))
            except (TypeError, KeyError, ValueError, OverflowError) as exc:
                raise bad from exc
        elif (
            expected is int
            and isinstance(value, int)
            and not isinstance(value, bool)
            and value in _INT_RANGE
        ):
            key.append(value)
        else:
            raise bad
    return tuple(key)


@strawberry.type(description="Where a page sits in its list.")
class PageInfo:
    # The list's kind and the page's cursor keys (its connection's): a cursor is sealed
    # only when a client asks for it (most read `nodes` alone).
    _kind: strawberry.Private[str]
    _keys: strawberry.Private[list[tuple[Any, ...]]]
    _next: strawberry.Private[bool | None]
    _previous: strawberry.Private[bool | None]
    _beyond: strawberry.Private[Callable[[Side], Awaitable[bool]]]

    @strawberry.field(
        description="Cursor of the first edge, if any; pass it as `before` (with `last`) for "
        "the page before this one."
    )
    def start_cursor(self) -> str | None:
        return encode_cursor(self._kind, self._keys[0]) if self._keys else None

    @strawberry.field(
        description="Cursor of the last edge, if any; pass it as `after` (with `first`) for "
        "the next page."
    )
    def end_cursor(self) -> str | None:
        return encode_cursor(self._kind, self._keys[-1]) if self._keys else None

    @strawberry.field(description="True when items of the list follow this page.")
    async def has_next_page(self) -> bool:
        return self._next if self._next is not None else await self._beyond("later")

    @strawberry.field(description="True when items of the list precede this page.")
    async def has_previous_page(self) -> bool:
        return self._previous if self._previous is not None else await self._beyond("earlier")


@strawberry.type(description="An item of a list, with its position in the list.")
class Edge(Generic[N]):
    cursor: str = strawberry.field(
        description="Opaque position of this item in its list: `after` it for what follows, "
        "`before` it for what precedes."
    )
    node: N = strawberry.field(description="The item.")


@strawberry.type(description="A page of a list (Relay connection).")
class Connection(Generic[N]):
    nodes: list[N] = strawberry.field(
        description="The items of this page, in the list's order (shortcut for edges.node)."
    )
    page_info: PageInfo = strawberry.field(description="Paging information.")
    _count: strawberry.Private[Callable[[], Awaitable[int]]]
    _keys: strawberry.Private[list[tuple[Any, ...]]]
    _kind: strawberry.Private[str]

    @strawberry.field(description="The items of this page with their cursors.")
    def edges(self) -> list[Edge[N]]:
        # Built only when asked for: most clients read `nodes`.
        return [
            Edge(cursor=encode_cursor(self._kind, k), node=n)
            for k, n in zip(self._keys, self.nodes, strict=True)
        ]

    @strawberry.field(description="How many items the whole list has (every page, this filter).")
    async def total_count(self) -> int:
        return await self._count()


def to_connection(
    page: Page[T],
    nodes: Sequence[N],
    count: Callable[[], Awaitable[int]],
    reads: Reads | None,
    *,
    kind: str,
) -> Connection[N]:
    """The page's items as ``nodes`` (built by the caller, one per item, in order).
    ``kind`` must be the one the list passes to ``page_window``; ``reads``, the bound
    repository the page came from, reads what lies beyond the page's cursors when a
    client asks (``Page.beyond``); None for a page cut from a list read whole
    (``page_of_whole``), which knows both its flags."""
    keys = page.keys

    async def beyond(side: Side) -> bool:
        assert reads is not None, "a page of a list read whole knows both its flags"
        return await reads.beyond(page, side)

    return Connection(
        nodes=list(nodes),
        page_info=PageInfo(
            _kind=kind,
            _keys=keys,
            _next=page.has_next,
            _previous=page.has_previous,
            _beyond=beyond,
        ),
        _count=count,
        _keys=keys,
        _kind=kind,
    )


async def read_connection(
    reads: Reads,
    window: Window,
    page: Callable[[Window], Awaitable[Page[Any]]],
    count: Callable[[], Awaitable[int]],
    nodes: Callable[[Page[Any]], Sequence[N]],
    *,
    kind: str,
) -> Connection[N]:
    """A connection of a list read by a bound repository (``reads``): ``page(window)``
    now, ``count()`` when ``totalCount`` is asked for; ``nodes`` makes the page's items
    into the GraphQL objects."""
    found = await page(window)
    return to_connection(found, nodes(found), count, reads, kind=kind)


async def loaded_connection(
    pages: DataLoader[tuple[int, Window], Page[Any]],
    counts: DataLoader[int, int],
    parent: int,
    window: Window,
    reads: Reads,
    nodes: Callable[[Page[Any]], Sequence[N]],
    *,
    kind: str,
) -> Connection[N]:
    """A connection of the list under ``parent`` (a conversation's participants), read
    through loaders over the bound repository ``reads``: the pages of every parent in a
    list are one batch (``pages``, keyed by parent and window), their lengths another
    (``counts``), read only when asked."""
    page = await pages.load((parent, window))

    async def count() -> int:
        return await counts.load(parent)

    return to_connection(page, nodes(page), count, reads, kind=kind)
