"""The byte-bounded LRU behind the edge's caches (app/edge/lru.py)."""

from __future__ import annotations

from app.edge.lru import ByteLRU


def test_a_key_put_twice_is_counted_once() -> None:
    # Two requests of a new document prepare it at once: both keep it.
    lru = ByteLRU[str, str](100)
    lru.put("q", "first", 60)
    lru.put("q", "second", 60)
    assert (len(lru), lru.size, lru.get("q")) == (1, 60, "second")
    lru.put("r", "other", 40)
    assert (len(lru), lru.size) == (2, 100)


def test_the_least_recently_used_go_first_and_oversized_entries_are_not_kept() -> None:
    lru = ByteLRU[str, int](100)
    for key in "abc":
        lru.put(key, 1, 30)
    assert lru.get("a") == 1  # a is now the most recently used
    lru.put("d", 1, 30)
    assert ("b" in lru, "a" in lru, lru.size) == (False, True, 90)
    lru.put("huge", 1, 101)
    assert ("huge" in lru, lru.size) == (False, 90)


def test_a_key_forgotten_frees_its_size() -> None:
    lru: ByteLRU[str, int] = ByteLRU(10)
    lru.put("a", 1, 6)
    lru.pop("a")
    lru.pop("never kept")
    assert (lru.size, len(lru), lru.get("a")) == (0, 0, None)
    lru.put("b", 2, 10)  # the whole capacity is free again
    assert lru.get("b") == 2
