"""A read's row type, as the prepared reads (app.db.prepared) and pages declare it: a
protocol of read-only attributes (app.models.rows holds the tables' ones) and the
column names its statement must select."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

R = TypeVar("R")


class RowShape(Generic[R]):
    """A read's row type ``R`` (a protocol of read-only attributes) and the names it
    declares, which the read's statement must select: ``RowShape[UserRow](UserRow)``."""

    __slots__ = ("_narrowed", "names", "protocol", "unread")

    def __init__(self, protocol: type) -> None:
        self.protocol = protocol
        self.names = frozenset(
            name
            for cls in protocol.__mro__
            for name, value in vars(cls).items()
            if isinstance(value, property)
        )
        # Names a narrowed read leaves out: its rows hold app.db.prepared.NOT_READ there.
        self.unread: frozenset[str] = frozenset()
        self._narrowed: dict[frozenset[str], RowShape[R]] = {}

    def reading(self, columns: frozenset[str]) -> RowShape[R]:
        """The same row type, of a statement that selects only ``columns`` of it (one
        object per set of columns)."""
        narrowed = self._narrowed.get(columns)
        if narrowed is None:
            narrowed = copy.copy(self)
            narrowed.names = self.names.intersection(columns)
            narrowed.unread = self.names - narrowed.names
            narrowed._narrowed = {}
            self._narrowed[columns] = narrowed
        return narrowed

    def check(self, keys: Iterable[str], read: str) -> None:
        """Refuses a statement whose columns (``keys``) lack a name of the row type."""
        missing = self.names - set(keys)
        if missing:
            raise TypeError(f"{read} selects no {sorted(missing)} of {self.protocol.__name__}")


# Rows whose columns nothing reads by name (a statement run for its effect).
ANY_ROW: RowShape[Any] = RowShape(object)
