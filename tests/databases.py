"""Databases for the tests. PostgreSQL: clones of the demo template, lent to one test at a
time and reset to exactly the demo data before the next loan. SQLite: copies of a
template file, lent the same way (``SqliteCopies``).

A clone per test (``CREATE DATABASE … TEMPLATE``) copies ~10 MB, and on PostgreSQL 15
every ``DROP DATABASE`` forces a checkpoint: that was most of the PostgreSQL half's time.
So a database, once its test is over, is reset and lent again. The reset is complete
because whatever a test can leave behind in a database is one of these:

- connections (with their sessions, locks, temporary tables): every other connection to
  the database is ended first, as ``DROP DATABASE … WITH (FORCE)`` would;
- catalogued objects (tables, columns, policies, functions, grants…): they change only
  by DDL, and an event trigger of the harness's own (schema ``test_harness``, installed
  in the template) counts every DDL command anyone starts there. Such a database is
  dropped and a fresh clone takes its place; so is one with what no DDL trigger sees:
  a change to its ``pg_database`` row (owner, privileges, limits), a setting
  (``ALTER DATABASE … SET``, ``ALTER ROLE … IN DATABASE … SET``), a comment, a large
  object, a prepared transaction, an event trigger;
- rows: each table whose rows (every column, in physical order) differ from the demo's
  is emptied and the demo's rows are copied back, triggers silent meanwhile
  (``session_replication_role = replica``: no cascade, no trigger writes a row); a table
  whose rows then lie in another physical order (space freed by autovacuum, reused) is
  truncated and copied back with every table that references it (a foreign key forbids
  truncating one alone);
- sequences: set back to the demo's values.

Then every table's and sequence's fingerprint must equal the template's, or the run
fails. Roles are the server's, shared by every database, as before.
"""

from __future__ import annotations

import io
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

HARNESS = "test_harness"

# Installed in the template once it is built (so in every clone): counts DDL commands.
# SECURITY DEFINER: a command the application role is refused must still be refused
# with its own error, not with one about this schema. ENABLE ALWAYS: it fires whatever
# the session's replication role. (Event trigger commands fire no event trigger: the
# reset checks that this one is still there, alone.)
COUNT_DDL = f"""
CREATE SCHEMA {HARNESS};
CREATE SEQUENCE {HARNESS}.ddl_commands;
CREATE FUNCTION {HARNESS}.count_ddl() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog
    AS $$ BEGIN PERFORM nextval('{HARNESS}.ddl_commands'); END $$;
CREATE EVENT TRIGGER {HARNESS}_ddl ON ddl_command_start
    EXECUTE FUNCTION {HARNESS}.count_ddl();
ALTER EVENT TRIGGER {HARNESS}_ddl ENABLE ALWAYS;
"""

# What no DDL trigger sees, but a fresh clone would not have.
DATABASE_ROW = """
SELECT d.datdba, d.datconnlimit, d.datallowconn, d.datistemplate, d.dattablespace,
       d.datacl::text
FROM pg_database d WHERE d.datname = current_database()
"""
UNSEEN_CHANGES = """
SELECT (SELECT is_called FROM test_harness.ddl_commands)
    OR (SELECT array_agg(evtname::text || evtenabled::text) FROM pg_event_trigger)
       IS DISTINCT FROM ARRAY['test_harness_ddlA']
    OR EXISTS (SELECT 1 FROM pg_db_role_setting s, pg_database d
               WHERE d.datname = current_database() AND s.setdatabase = d.oid)
    OR EXISTS (SELECT 1 FROM pg_shdescription c, pg_database d
               WHERE d.datname = current_database() AND c.objoid = d.oid
                 AND c.classoid = 'pg_database'::regclass)
    OR EXISTS (SELECT 1 FROM pg_largeobject_metadata)
    OR EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE database = current_database())
"""
END_OTHER_CONNECTIONS = """
SELECT coalesce(bool_and(pg_terminate_backend(pid, 10000)), true) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()
"""
USER_RELATIONS = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = $1 AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'test_harness')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY 1, 2
"""
FOREIGN_KEYS = """
SELECT rn.nspname, r.relname, tn.nspname, t.relname
FROM pg_constraint k
JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE k.contype = 'f'
"""

Name = tuple[str, str]  # (schema, relation)


def _sql(name: Name) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name)


def _literal(name: Name) -> str:
    return "'" + _sql(name).replace("'", "''") + "'"


@dataclass(frozen=True)
class Demo:
    """The demo data as a fresh clone holds it."""

    database_row: tuple[object, ...]
    tables: tuple[Name, ...]
    referenced_by: dict[Name, set[Name]]
    rows: dict[Name, bytes]  # binary COPY
    fingerprint: dict[Name, str]
    sequences: dict[Name, tuple[int, bool]]

    @classmethod
    async def read(cls, conn: asyncpg.Connection) -> Demo:
        tables = tuple((r[0], r[1]) for r in await conn.fetch(USER_RELATIONS, "r"))
        sequences = tuple((r[0], r[1]) for r in await conn.fetch(USER_RELATIONS, "S"))
        referenced_by: dict[Name, set[Name]] = {t: set() for t in tables}
        for target_schema, target, source_schema, source in await conn.fetch(FOREIGN_KEYS):
            referenced_by[(target_schema, target)].add((source_schema, source))
        rows = {}
        for schema, table in tables:
            out = io.BytesIO()
            await conn.copy_from_table(table, schema_name=schema, output=out, format="binary")
            rows[(schema, table)] = out.getvalue()
        return cls(
            database_row=tuple(await conn.fetchrow(DATABASE_ROW)),
            tables=tables,
            referenced_by=referenced_by,
            rows=rows,
            fingerprint=await fingerprint(conn, tables),
            sequences=await sequence_values(conn, sequences),
        )

    def closure(self, changed: set[Name]) -> list[Name]:
        """``changed`` and every table referencing one of them, directly or not."""
        found, todo = set(changed), list(changed)
        while todo:
            for source in self.referenced_by[todo.pop()] - found:
                found.add(source)
                todo.append(source)
        return sorted(found)


async def fingerprint(conn: asyncpg.Connection, tables: tuple[Name, ...]) -> dict[Name, str]:
    """Per table, the MD5 of its rows (every column) in physical order."""
    sql = " UNION ALL ".join(
        f"SELECT {i}, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r.ctid), ''))"  # noqa: S608
        f" FROM {_sql(table)} AS r"
        for i, table in enumerate(tables)
    )
    return {tables[i]: digest for i, digest in await conn.fetch(sql)}


async def sequence_values(
    conn: asyncpg.Connection, sequences: tuple[Name, ...]
) -> dict[Name, tuple[int, bool]]:
    if not sequences:
        return {}
    sql = " UNION ALL ".join(
        f"SELECT {i}, last_value, is_called FROM {_sql(s)}"  # noqa: S608 (from the catalog)
        for i, s in enumerate(sequences)
    )
    return {sequences[i]: (value, called) for i, value, called in await conn.fetch(sql)}


class Databases:
    """Clones of one template, each lent to one test at a time (``lend``) and reset on
    return; ``close`` drops them."""

    def __init__(
        self, template: str, admin: Callable[[str], Awaitable[None]], dsn: Callable[[str], str]
    ) -> None:
        self.template, self.admin, self.dsn = template, admin, dsn
        self.names = (f"{template}_{n}" for n in itertools.count())
        self.idle: list[str] = []
        # The harness's own connection to each clone (as the owner), kept between loans.
        self.connections: dict[str, asyncpg.Connection] = {}
        self.demo: Demo | None = None

    @asynccontextmanager
    async def lend(self, *, fresh: bool = False) -> AsyncIterator[str]:
        """A database holding the demo data; ``fresh``: a new clone, its rows where the
        template has them (a database lent before may hold them elsewhere on disk)."""
        name = self.idle.pop() if self.idle and not fresh else await self.clone()
        reusable = False
        try:
            yield name
        finally:
            try:
                reusable = await self.reset(name)
            finally:
                if reusable:
                    self.idle.append(name)
                else:
                    await self.drop(name)

    async def clone(self) -> str:
        name = next(self.names)
        # (left behind by a run of the same process id that was killed)
        await self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        if self.demo is None:
            try:
                self.demo = await Demo.read(await self.connection(name))
            except BaseException:
                await self.drop(name)
                raise
        return name

    async def connection(self, name: str) -> asyncpg.Connection:
        conn = self.connections.get(name)
        if conn is None or conn.is_closed():
            conn = self.connections[name] = await asyncpg.connect(self.dsn(name))
        return conn

    async def reset(self, name: str) -> bool:
        """Back to the demo data; False when the database must be dropped instead."""
        demo = self.demo
        assert demo is not None
        try:
            conn = await self.connection(name)
            ended = await conn.fetchval(END_OTHER_CONNECTIONS)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            # A test ended the harness's connection too: a new one ends the others.
            self.connections.pop(name, None)
            conn = await self.connection(name)
            ended = await conn.fetchval(END_OTHER_CONNECTIONS)
        if not ended or await conn.fetchval(UNSEEN_CHANGES):
            return False
        if tuple(await conn.fetchrow(DATABASE_ROW)) != demo.database_row:
            return False
        # Emptying the changed tables and copying their rows back is quick; should a
        # table's rows then lie in another physical order (space freed by autovacuum,
        # reused), truncating it with the tables that reference it is slower but exact.
        for truncate in (False, True, None):
            if await self.put_back(conn, demo, truncate):
                return True
        raise AssertionError(f"the reset of {name} left it different from the demo data")

    @staticmethod
    async def put_back(conn: asyncpg.Connection, demo: Demo, truncate: bool | None) -> bool:
        """True when the rows and sequences are the demo's; else puts the demo's back
        (by truncating the tables when ``truncate``, not at all when None), False."""
        rows = await fingerprint(conn, demo.tables)
        sequences = await sequence_values(conn, tuple(demo.sequences))
        if (rows, sequences) == (demo.fingerprint, demo.sequences):
            return True
        if truncate is None:
            return False
        changed = {t for t in demo.tables if rows[t] != demo.fingerprint[t]}
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            if truncate:
                tables = demo.closure(changed)
                if tables:
                    await conn.execute(f"TRUNCATE {', '.join(map(_sql, tables))}")
            else:
                tables = sorted(changed)
                for table in tables:
                    await conn.execute(f"DELETE FROM {_sql(table)}")  # noqa: S608
            for schema, table in tables:
                await conn.copy_to_table(
                    table,
                    schema_name=schema,
                    source=io.BytesIO(demo.rows[(schema, table)]),
                    format="binary",
                )
            for sequence, (value, called) in demo.sequences.items():
                if sequences[sequence] != (value, called):
                    await conn.execute(
                        f"SELECT setval({_literal(sequence)}, $1, $2)", value, called
                    )
        return False

    async def drop(self, name: str) -> None:
        conn = self.connections.pop(name, None)
        if conn is not None:
            conn.terminate()
        await self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def close(self) -> None:
        while self.idle:
            await self.drop(self.idle.pop())


class SqliteCopies:
    """SQLite files of one folder, each lent to one test at a time with a template's
    bytes copied in: the same path comes back, so the engine made for it can too
    (tests/engines.py). A file some handle of this process still holds open when its
    loan ends (a connection a test left behind) is not lent again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names = (f"copy_{n}.db" for n in itertools.count())
        self.idle: list[Path] = []

    @asynccontextmanager
    async def lend(self, template: Path) -> AsyncIterator[Path]:
        path = self.idle.pop() if self.idle else self.folder / next(self.names)
        for leftover in _sqlite_companions(path):  # the last test's WAL, if any
            leftover.unlink(missing_ok=True)
        shutil.copyfile(template, path)
        try:
            yield path
        finally:
            if not _open_here({path, *_sqlite_companions(path)}):
                self.idle.append(path)


def _sqlite_companions(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def _open_here(paths: set[Path]) -> bool:
    """Does a file descriptor of this process point at one of ``paths`` (Linux)?"""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return True  # cannot tell: never lend it again
    for fd in fds.iterdir():
        try:
            if Path(os.readlink(fd)) in paths:
                return True
        except OSError:
            continue
    return False
