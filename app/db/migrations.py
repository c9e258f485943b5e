"""Alembic, driven from code: upgrade to head and check that a database is current.

Several replicas may run ``python -m app migrate`` at once (each container migrating on
start). On PostgreSQL the upgrade runs under a session-level advisory lock with the fixed
key ``MIGRATION_LOCK_KEY``, so the runs serialize: the first applies the migrations, the
others wait, then find the database at head and do nothing. Advisory locks are scoped to
the database, so migrating two databases of one server never waits. SQLite takes no
lock: its file is one host's embedded database, served by one container whose entry point
migrates before its workers start, and replicas need PostgreSQL anyway (they cannot share a
SQLite file across hosts). Two runs started at once on one SQLite file are not serialized:
the second may stop with "table … already exists", harming nothing; run it again."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenant import install_key, key_of

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# pg_advisory_lock key held while migrating: "harmony" in ASCII, as a bigint. Operators
# can see a running or waiting migration in pg_locks (locktype 'advisory', objid 1836019321
# and classid 6840690: the key's low and high 32 bits).
MIGRATION_LOCK_KEY = int.from_bytes(b"harmony", "big")


class SchemaNotCurrentError(RuntimeError):
    """The database is not at the revision this code expects."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Migrate to ``revision``; on PostgreSQL also (re)install the key that signs tenant
    contexts, the one ``engine`` carries (derived from the gateway's secret, so run this
    with the same secret as the gateway, and again after changing it). Returns the
    revision the database was at before (read under the lock)."""
    async with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # Waiting for another replica's migration is no statement to time out.
            await conn.execute(text("SET LOCAL statement_timeout = 0"))
            await conn.execute(text("SET LOCAL lock_timeout = 0"))
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await conn.commit()
        try:
            async with conn.begin():
                before = await conn.run_sync(_current)
                await conn.run_sync(_upgrade, revision)
                if postgres and await conn.run_sync(_has_key_table):
                    await install_key(conn, key_of(engine))
            return before
        finally:
            if postgres:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await conn.commit()


def _has_key_table(connection: Connection) -> bool:
    return sa.inspect(connection).has_table("harmony_context_key")


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def ensure_current(engine: AsyncEngine) -> None:
    try:
        current = await current_revision(engine)
    except OSError as exc:
        raise SchemaNotCurrentError(
            f"Cannot reach the database ({exc.__class__.__name__}); check DATABASE_URL."
        ) from exc
    head = head_revision()
    if current is None:
        raise SchemaNotCurrentError(
            "The database has no schema yet: run `python -m app migrate` first."
        )
    if current != head:
        raise SchemaNotCurrentError(
            f"The database schema is at revision {current} but this code expects {head}: "
            "run `python -m app migrate`."
        )
