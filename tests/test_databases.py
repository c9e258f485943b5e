"""The PostgreSQL test databases are reset to exactly the demo data between loans
(tests/databases.py): what a test commits, in rows, sequences or the schema, is gone
for the next one."""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import APP_ROLE, _pg_dsn
from tests.databases import Databases, Demo


@pytest.fixture
def databases(pg_databases: Databases | None) -> Databases:
    if pg_databases is None:
        pytest.skip("PostgreSQL is not reachable")
    return pg_databases


async def state(name: str) -> tuple[object, ...]:
    conn = await asyncpg.connect(_pg_dsn(name))
    try:
        demo = await Demo.read(conn)
    finally:
        await conn.close()
    return demo.fingerprint, demo.sequences, demo.rows


async def execute(name: str, *statements: str, user: str | None = None) -> None:
    conn = await asyncpg.connect(_pg_dsn(name), user=user)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def test_committed_rows_and_sequences_are_gone_for_the_next_loan(
    databases: Databases,
) -> None:
    async with databases.lend() as first:
        demo = await state(first)
        await execute(
            first,
            "UPDATE users SET name = name || '!' WHERE id = (SELECT min(id) FROM users)",
            "DELETE FROM team_members",
            "INSERT INTO workspaces (slug, name, handbook, created_at)"
            " VALUES ('new', 'New', '', now())",
            "SELECT nextval('audit_events_id_seq')",
        )
        assert await state(first) != demo
    async with databases.lend() as second:
        assert second == first  # the same database, lent again
        assert await state(second) == demo


async def test_rows_left_in_another_physical_order_are_put_back_in_the_demo_order(
    databases: Databases,
) -> None:
    # A fresh clone: in a database lent before, the rows copied back may have left free
    # space behind them where the update's new version would land in the same order.
    async with databases.lend(fresh=True) as first:
        demo = await state(first)
        # An update writes a new version of the row at the end: same rows, another order
        # (what a query without ORDER BY would show).
        await execute(first, "UPDATE users SET name = name WHERE id = (SELECT min(id) FROM users)")
        assert await state(first) != demo
    async with databases.lend() as second:
        assert await state(second) == demo


@pytest.mark.parametrize(
    "statement",
    [
        "COMMENT ON TABLE members IS 'changed'",
        "ALTER TABLE teams ADD COLUMN extra int",
        "GRANT SELECT ON api_key_secrets TO PUBLIC",
        "CREATE TABLE extra (id int)",
        "SET session_replication_role = replica; CREATE TABLE extra (id int)",
        "DROP EVENT TRIGGER test_harness_ddl",  # fires no event trigger, is seen all the same
    ],
)
async def test_a_database_changed_by_ddl_is_replaced_by_a_fresh_clone(
    databases: Databases, statement: str
) -> None:
    async with databases.lend() as first:
        demo = await state(first)
        await execute(first, statement)
    async with databases.lend() as second:
        assert second != first
        assert await state(second) == demo
    admin = await asyncpg.connect(_pg_dsn("postgres"))
    try:
        exists = await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", first)
    finally:
        await admin.close()
    assert exists == 0


async def test_a_database_level_setting_is_replaced_by_a_fresh_clone(databases: Databases) -> None:
    async with databases.lend() as first:
        await execute(first, f"ALTER DATABASE \"{first}\" SET work_mem = '8MB'")
    async with databases.lend() as second:
        assert second != first


async def test_ddl_the_app_role_is_refused_keeps_its_own_error(databases: Databases) -> None:
    """The harness's DDL counter runs as its owner: the refusal is PostgreSQL's own."""
    async with databases.lend() as name:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="must be owner of table"):
            await execute(name, "ALTER TABLE members DISABLE ROW LEVEL SECURITY", user=APP_ROLE)


async def test_connections_left_open_are_ended_before_the_reset(databases: Databases) -> None:
    async with databases.lend() as name:
        left_open = await asyncpg.connect(_pg_dsn(name), user=APP_ROLE)
    try:
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await left_open.fetchval("SELECT 1")
    finally:
        left_open.terminate()


async def test_the_exact_way_back_truncates_a_table_with_the_tables_referencing_it(
    databases: Databases,
) -> None:
    """The slower way back (used when rows copied back lie in another physical order)
    truncates ``users`` with every table whose foreign keys point at it, and copies them
    all back."""
    async with databases.lend() as name:
        demo = databases.demo
        assert demo is not None
        assert len(demo.closure({("public", "users")})) > 5
        await execute(
            name, "UPDATE users SET name = 'Changed' WHERE id = (SELECT min(id) FROM users)"
        )
        conn = await asyncpg.connect(_pg_dsn(name))
        try:
            assert await Databases.put_back(conn, demo, truncate=True) is False  # it was changed
            assert await Databases.put_back(conn, demo, truncate=None) is True  # now it is not
        finally:
            await conn.close()
