"""The tests' own proof that nothing changed: ``digests`` (taken after every request by
the existence-oracle walk and the fuzz) tells apart what ``snapshot`` tells apart."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.graphql.mutations.helpers import digests, one, snapshot


async def _change(engine: AsyncEngine, sql: str, **params: Any) -> list[str]:
    """The tables whose digest the statement changed (those its snapshot changed)."""
    before, rows_before = await digests(engine), await snapshot(engine)
    async with engine.begin() as conn:
        await conn.execute(sa.text(sql), params)
    after, rows_after = await digests(engine), await snapshot(engine)
    changed = sorted(t for t in after if after[t] != before[t])
    assert changed == sorted(t for t in rows_after if rows_after[t] != rows_before[t])
    return changed


async def test_digests_change_with_any_column_of_any_row(owner_engine: AsyncEngine) -> None:
    assert await _change(owner_engine, "UPDATE users SET name = name") == []
    assert await _change(
        owner_engine, "UPDATE users SET name = name || '.' WHERE email = 'cy@acme.test'"
    ) == ["users"]
    # Two rows swapping a value: the same values, other rows.
    name = "SELECT name FROM users WHERE email = :email"
    ada = await one(owner_engine, name, email="ada@acme.test")
    ben = await one(owner_engine, name, email="ben@acme.test")
    swap = (
        "UPDATE users SET name = CASE email WHEN 'ada@acme.test' THEN :ben ELSE :ada END"
        " WHERE email IN ('ada@acme.test', 'ben@acme.test')"
    )
    assert await _change(owner_engine, swap, ada=ada, ben=ben) == ["users"]
    assert await _change(owner_engine, "DELETE FROM team_members") == ["team_members"]


async def test_digests_read_in_one_statement(owner_engine: AsyncEngine) -> None:
    statements: list[str] = []
    sa.event.listen(
        owner_engine.sync_engine,
        "before_cursor_execute",
        lambda *args: statements.append(args[2]),
    )
    await digests(owner_engine)
    assert len(statements) == 1
