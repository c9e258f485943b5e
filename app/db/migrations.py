"""Alembic, driven from code: upgrade to head and check that a database is current."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.tenant import install_key, key_of

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


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


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate to ``revision``; on PostgreSQL also (re)install the key that signs tenant
    contexts, the one ``engine`` carries (derived from the gateway's secret, so run this
    with the same secret as the gateway, and again after changing it)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
        if conn.dialect.name == "postgresql" and await conn.run_sync(_has_key_table):
            await install_key(conn, key_of(engine))


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
