"""accounts known by reference: an account a workspace's row refers to is known to it

PostgreSQL only (SQLite has no row-level security and no ``workspace_accounts``).
0003 made ``users`` visible to a session for the accounts its workspaces know
(``workspace_accounts``), kept by a trigger on ``members`` and filled once from members
and from every row that refers to an account (``ACCOUNT_REFERENCES``). Rows written
since then that refer to an account were not remembered: a conversation's participant
whose account was never a member read as a guest (``user: null``) while the same row
written before 0003 read with its account. This adds the same trigger to each of those
tables, for its own column, and fills in what was missed (idempotent: known pairs are
skipped, triggers made again), so a re-run changes nothing.

It is also what lets a read take an account's id from the foreign key instead of joining
``users`` (app.db.prepared.ToOne): a row a session may read is in one of its workspaces,
and the account it refers to is now always known there, so the join would find it.

Each trigger runs as the role that writes the row, under its context: a row it may write
is in a workspace the context allows, so the account row passes the same check. Runs as
the migration role, which bypasses row-level security (0002). Downgrade drops the
triggers and their functions; the pairs stay (0003's own backfill wrote such pairs too).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

# DDL built from quoted identifiers (schema, tables, columns) of the list below only:
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0003's list less ``members`` (whose trigger 0003 made): (table, column of the account).
# A table that refers to accounts from now on adds its own pair in its own migration.
REFERENCES: tuple[tuple[str, str], ...] = (
    ("conversations", "host_user_id"),
    ("conversation_participants", "user_id"),
    ("action_items", "assignee_user_id"),
    ("share_links", "created_by_user_id"),
    ("api_keys", "created_by_user_id"),
    ("integrations", "connected_by_user_id"),
    ("audit_events", "actor_user_id"),
)


def _q(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote_identifier(name)


def _function(table: str) -> str:
    return f"harmony_remember_{table}_account"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    s = _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))
    for table, column in REFERENCES:
        t, c, fn = _q(table), _q(column), f"{s}.{_function(table)}"
        op.execute(
            f"""
            INSERT INTO {s}.workspace_accounts (workspace_id, user_id)
            SELECT DISTINCT workspace_id, {c} FROM {s}.{t} WHERE {c} IS NOT NULL
            ON CONFLICT DO NOTHING
            """
        )
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger
            LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
            AS $fn$
            BEGIN
                IF NEW.{c} IS NOT NULL THEN
                    INSERT INTO {s}.workspace_accounts (workspace_id, user_id)
                    VALUES (NEW.workspace_id, NEW.{c}) ON CONFLICT DO NOTHING;
                END IF;
                RETURN NULL;
            END
            $fn$
            """
        )
        op.execute(f"DROP TRIGGER IF EXISTS remember_account ON {s}.{t}")  # a re-run
        op.execute(
            f"CREATE TRIGGER remember_account AFTER INSERT OR UPDATE OF {c} ON {s}.{t} "
            f"FOR EACH ROW EXECUTE FUNCTION {fn}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    s = _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))
    for table, _column in REFERENCES:
        op.execute(f"DROP TRIGGER IF EXISTS remember_account ON {s}.{_q(table)}")
        op.execute(f"DROP FUNCTION IF EXISTS {s}.{_function(table)}()")
