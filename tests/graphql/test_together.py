"""``app.graphql.loaders.together``: the relations a page still has to read, awaited
concurrently; a read not needed answers None and costs nothing."""

from __future__ import annotations

import asyncio

import pytest

from app.graphql.loaders import together


async def _answer(value: str, started: list[str]) -> str:
    started.append(value)
    return value


async def _meet(value: str, mine: asyncio.Event, other: asyncio.Event) -> str:
    """Answers once the other read has begun too: read one after the other, never."""
    mine.set()
    await other.wait()
    return value


async def test_reads_not_needed_answer_none_in_their_place() -> None:
    started: list[str] = []
    assert await together(None, _answer("teams", started), None) == [None, "teams", None]
    assert await together(None, None) == [None, None]
    assert await together() == []
    assert started == ["teams"]


async def test_the_reads_needed_run_concurrently_and_answer_in_order() -> None:
    users, roles = asyncio.Event(), asyncio.Event()
    async with asyncio.timeout(5):
        answers = await together(_meet("users", users, roles), None, _meet("roles", roles, users))
    assert answers == ["users", None, "roles"]


async def test_a_read_that_fails_fails_them_all() -> None:
    async def refused() -> str:
        raise LookupError("not found")

    with pytest.raises(LookupError):
        await together(refused(), None)
