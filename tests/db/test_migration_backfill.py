"""Migration 0008 on both engines: deliveries that finished before 0007 get the one
attempt they still know as a row of ``webhook_delivery_attempts``; a delivery still
PENDING (a worker may be sending it) and one whose attempt is listed already get
nothing; a second run adds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
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

AT = datetime(2026, 12, 1, 10, tzinfo=UTC)
# id, status, attempts, last_attempt_at, last_status_code, last_duration_ms, last_error
DELIVERIES = [
    (1, "SUCCEEDED", 2, AT, 200, 41, None),
    (2, "FAILED", 8, AT, None, None, "timeout"),
    (3, "PENDING", 3, AT, 503, 12, "HTTP 503"),
    (4, "SUCCEEDED", 1, AT, 204, 9, None),  # its attempt is listed already
]


@pytest.fixture(params=["sqlite", "postgres"])
async def at_0007(
    request: pytest.FixtureRequest, tmp_path: Path, pg_databases: Databases | None
) -> AsyncIterator[AsyncEngine]:
    """An owner engine on a new database migrated to 0007."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        else:
            url = _pg_sa_url(await stack.enter_async_context(new_pg_database(pg_databases)))
        engine = create_engine(conftest.test_settings(url), url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine, "0007")
        yield engine


async def _run(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.begin() as conn:
        result = await conn.execute(sa.text(sql), params)
        return list(result.all()) if result.returns_rows else []


async def test_finished_deliveries_get_their_last_attempt_listed(at_0007: AsyncEngine) -> None:
    e = at_0007
    await _run(
        e,
        "INSERT INTO users (id, email, name, status, created_at) "
        "VALUES (1, 'ada@acme.test', 'Ada', 'ACTIVE', :at)",
        at=AT,
    )
    await _run(
        e,
        "INSERT INTO workspaces (id, slug, name, handbook, created_at) "
        "VALUES (1, 'acme', 'Acme', '', :at)",
        at=AT,
    )
    await _run(
        e,
        "INSERT INTO webhook_endpoints (id, workspace_id, url, description, events, enabled, "
        "secret_sealed, created_by_user_id, created_at, updated_at) VALUES "
        "(1, 1, 'https://crm.example.com/hooks', '', '[]', true, 'sealed', 1, :at, :at)",
        at=AT,
    )
    for d, status, attempts, last_at, code, duration, error in DELIVERIES:
        await _run(
            e,
            "INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, "
            "event_type, payload, status, attempts, next_attempt_at, last_attempt_at, "
            "last_status_code, last_duration_ms, last_error, created_at) VALUES "
            "(:d, 1, 1, :event, 'team.created', '{}', :status, :attempts, NULL, :last_at, "
            ":code, :duration, :error, :at)",
            d=d,
            event=f"msg_{d}",
            status=status,
            attempts=attempts,
            last_at=last_at,
            code=code,
            duration=duration,
            error=error,
            at=AT,
        )
    await _run(
        e,
        "INSERT INTO webhook_delivery_attempts (workspace_id, delivery_id, attempt, "
        "started_at, status_code, duration_ms, error) VALUES (1, 4, 1, :at, 204, 9, NULL)",
        at=AT,
    )
    listed = (
        "SELECT delivery_id, attempt, status_code, duration_ms, error "
        "FROM webhook_delivery_attempts ORDER BY delivery_id, attempt"
    )
    expected = [(1, 2, 200, 41, None), (2, 8, None, 0, "timeout"), (4, 1, 204, 9, None)]
    await upgrade(e)
    assert [tuple(r) for r in await _run(e, listed)] == expected
    [(started,)] = await _run(
        e, "SELECT started_at FROM webhook_delivery_attempts WHERE delivery_id = 1"
    )
    assert str(started).startswith("2026-12-01 10:00:00")
    # Run again from 0007: nothing is added twice.
    await _run(e, "UPDATE alembic_version SET version_num = '0007'")
    await upgrade(e)
    assert [tuple(r) for r in await _run(e, listed)] == expected
