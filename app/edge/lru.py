"""An LRU bounded in (estimated) bytes: the edge's caches are sized in memory, never in
entries, so that large entries cannot multiply what a worker holds."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class ByteLRU(Generic[K, V]):
    """key -> value, each with its size in bytes; the least recently used go first once
    the sizes add up to more than ``capacity``. An entry larger than the whole capacity
    is not kept."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.size = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def pop(self, key: K) -> None:
        """Forget ``key`` (nothing if it is not kept)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= entry[1]

    def put(self, key: K, value: V, size: int) -> None:
        if size > self.capacity:
            return
        previous = self._entries.pop(key, None)  # (two requests may prepare one document)
        if previous is not None:
            self.size -= previous[1]
        self._entries[key] = (value, size)
        self.size += size
        while self.size > self.capacity:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.size -= evicted
