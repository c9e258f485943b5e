"""Migration 0009 on PostgreSQL: an account that a workspace's rows refer to, written
before it without ever being a member there, becomes known to that workspace; rows
written after it make their accounts known as they are written; a second run changes
nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine
from app.db.migrations import upgrade
from tests import conftest
from tests.conftest import _pg_sa_url
from tests.databases import Databases
from tests.db.conftest import new_pg_database

pytestmark = pytest.mark.postgres_only

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)
KNOWN = "SELECT workspace_id, user_id FROM workspace_accounts ORDER BY workspace_id, user_id"


@pytest.fixture
async def at_0008(pg_databases: Databases | None) -> AsyncIterator[AsyncEngine]:
    """An owner engine on a new database migrated to 0008."""
    async with AsyncExitStack() as stack:
        url = _pg_sa_url(await stack.enter_async_context(new_pg_database(pg_databases)))
        engine = create_engine(conftest.test_settings(url), url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine, "0008")
        yield engine


async def _run(engine: AsyncEngine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with engine.begin() as conn:
        result = await conn.execute(sa.text(sql), params)
        return [tuple(r) for r in result.all()] if result.returns_rows else []


async def _conversation(engine: AsyncEngine, id_: int, host: int, participant: int) -> None:
    await _run(
        engine,
        "INSERT INTO conversations (id, workspace_id, title, occurred_at, duration_seconds, "
        "host_user_id, created_at) VALUES (:id, 1, 'Sync', :at, 60, :host, :at)",
        id=id_,
        host=host,
        at=AT,
    )
    await _run(
        engine,
        "INSERT INTO conversation_participants (workspace_id, conversation_id, user_id, name) "
        "VALUES (1, :id, :user, 'Someone'), (1, :id, NULL, 'Guest')",
        id=id_,
        user=participant,
    )


async def test_accounts_referred_to_become_known_to_the_workspace(at_0008: AsyncEngine) -> None:
    e = at_0008
    for user in (1, 2, 3):
        await _run(
            e,
            "INSERT INTO users (id, email, name, status, created_at) "
            "VALUES (:id, :email, 'Someone', 'ACTIVE', :at)",
            id=user,
            email=f"u{user}@example.test",
            at=AT,
        )
    await _run(
        e,
        "INSERT INTO workspaces (id, slug, name, handbook, created_at) "
        "VALUES (1, 'acme', 'Acme', '', :at)",
        at=AT,
    )
    await _conversation(e, 1, host=1, participant=2)  # neither was ever a member
    assert await _run(e, KNOWN) == []  # before 0009: only members were remembered

    await upgrade(e)
    assert await _run(e, KNOWN) == [(1, 1), (1, 2)]

    await _conversation(e, 2, host=1, participant=3)  # written after 0009
    assert await _run(e, KNOWN) == [(1, 1), (1, 2), (1, 3)]

    # Run again from 0008: nothing is added twice, the triggers are made again.
    await _run(e, "UPDATE alembic_version SET version_num = '0008'")
    await upgrade(e)
    assert await _run(e, KNOWN) == [(1, 1), (1, 2), (1, 3)]
    triggers = await _run(
        e,
        "SELECT count(*) FROM pg_trigger WHERE tgname = 'remember_account' AND NOT tgisinternal",
    )
    assert triggers == [(8,)]  # members (0003) and the seven tables of 0009
