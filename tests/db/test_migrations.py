"""``python -m app migrate`` from several replicas at once: on PostgreSQL the runs
serialize on an advisory lock (app/db/migrations.py), the first applies the migrations
and the others find nothing to do."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrations import MIGRATION_LOCK_KEY, current_revision, head_revision, upgrade
from tests.conftest import TEST_SECRET, _pg_dsn, _pg_sa_url

ROOT = Path(__file__).resolve().parents[2]


async def test_migrating_a_current_database_changes_nothing(owner_engine: AsyncEngine) -> None:
    head = head_revision()
    assert await upgrade(owner_engine) == head  # the revision it was at
    assert await current_revision(owner_engine) == head


@pytest.mark.postgres_only
async def test_the_migration_lock_is_released_after_migrating(owner_engine: AsyncEngine) -> None:
    await upgrade(owner_engine)  # its connection goes back to the pool, still open
    other = await asyncpg.connect(_pg_dsn(owner_engine.url.database or ""))
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY)
    finally:
        await other.close()


def _migrate(database: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "APP_ENV": "development",
        "JWT_SECRET": TEST_SECRET,
        "DATABASE_URL": _pg_sa_url(database),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("MIGRATION_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "app", "migrate"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


async def _waiting_for_the_lock(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database() "
            "AND (l.classid::bigint << 32) + l.objid::bigint = $1",
            MIGRATION_LOCK_KEY,
        )
    )


@pytest.mark.slow
@pytest.mark.postgres_only
async def test_two_replicas_migrating_a_fresh_database_at_once_apply_it_once(
    backend: str, empty_pg_database: str
) -> None:
    # Hold the lock ourselves until both runs are waiting for it: they truly overlap.
    holder = await asyncpg.connect(_pg_dsn(empty_pg_database))
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        runs = [_migrate(empty_pg_database), _migrate(empty_pg_database)]
        deadline = time.monotonic() + 60
        while await _waiting_for_the_lock(holder) < 2:
            assert all(run.poll() is None for run in runs), [run.communicate() for run in runs]
            assert time.monotonic() < deadline, "the two runs never waited for the lock"
            await asyncio.sleep(0.1)
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        outputs = [await asyncio.to_thread(run.communicate, timeout=120) for run in runs]
        revision = await holder.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await holder.close()
    head = head_revision()
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sorted(out.strip().splitlines()[-1] for out, _ in outputs) == [
        f"database already at revision {head} (head): nothing to do",
        f"database upgraded from revision (empty) to {head} (head)",
    ]
    assert revision == head
