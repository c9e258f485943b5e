"""Shared bits of the mutation tests: IDs of demo objects, and a snapshot of the
database to prove that a refused mutation changed nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import app.models  # noqa: F401 - every table in the metadata
from app.graphql.ids import encode_id
from app.models import TENANT_TABLES

SNAPSHOT_TABLES = (*TENANT_TABLES, "users")


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (tenant tables and users), in a stable order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for table in SNAPSHOT_TABLES:
            rows = (await conn.execute(sa.text(f"SELECT * FROM {table}"))).all()  # noqa: S608 - fixed names
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def digests(
    engine: AsyncEngine, tables: Iterable[str] = SNAPSHOT_TABLES
) -> dict[str, tuple[int, str]]:
    """Per table, its row count and a digest of its rows (every column, in any order):
    ``snapshot`` reduced to what tells a change, read in one statement, for the tests
    that take one after every request."""
    sqlite = engine.dialect.name == "sqlite"
    parts = []
    for name in tables:
        if sqlite:  # no row-to-text cast: each column as a SQL literal
            columns = SQLModel.metadata.tables[name].columns
            row = " || ',' || ".join(f'quote("{c.name}")' for c in columns)
        else:
            row = "r::text"
        parts.append(f"SELECT '{name}', {row} FROM {name} AS r")  # noqa: S608 - fixed names
    rows: dict[str, list[str]] = {name: [] for name in tables}
    async with engine.connect() as conn:
        for name, text in await conn.execute(sa.text(" UNION ALL ".join(parts))):
            rows[name].append(text)
    return {
        name: (len(texts), hashlib.sha256("\n".join(sorted(texts)).encode()).hexdigest())
        for name, texts in rows.items()
    }


async def one(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).scalar()


async def pk_of(engine: AsyncEngine, sql: str, **params: Any) -> int:
    value = await one(engine, sql, **params)
    assert value is not None, sql
    return int(value)


async def member_id(engine: AsyncEngine, email: str, slug: str) -> str:
    pk = await pk_of(
        engine,
        "SELECT m.id FROM members m JOIN users u ON u.id = m.user_id JOIN workspaces w ON w.id = m.workspace_id "
        "WHERE u.email = :email AND w.slug = :slug",
        email=email,
        slug=slug,
    )
    return encode_id("Member", pk)


async def workspace_id(engine: AsyncEngine, slug: str) -> str:
    return encode_id(
        "Workspace", await pk_of(engine, "SELECT id FROM workspaces WHERE slug = :s", s=slug)
    )


async def role_id(engine: AsyncEngine, slug: str, name: str) -> str:
    pk = await pk_of(
        engine,
        "SELECT r.id FROM roles r JOIN workspaces w ON w.id = r.workspace_id WHERE w.slug = :s AND r.name = :n",
        s=slug,
        n=name,
    )
    return encode_id("Role", pk)


async def team_id(engine: AsyncEngine, slug: str, name: str) -> str:
    pk = await pk_of(
        engine,
        "SELECT t.id FROM teams t JOIN workspaces w ON w.id = t.workspace_id WHERE w.slug = :s AND t.name = :n",
        s=slug,
        n=name,
    )
    return encode_id("Team", pk)


async def audit_actions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list(
            (await conn.execute(sa.text("SELECT action FROM audit_events ORDER BY id"))).scalars()
        )
