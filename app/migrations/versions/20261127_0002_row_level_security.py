"""row-level security (PostgreSQL only)

The second wall of tenant isolation. On PostgreSQL:

- the application role (``Settings.db_app_role``, default ``harmony_app``) is created
  when absent: LOGIN, NOSUPERUSER, NOBYPASSRLS, NOCREATEDB, NOCREATEROLE, no password
  (production sets one out of band). It gets DML on every table, reads
  ``alembic_version`` (the startup check) and uses the sequences; default privileges
  extend that to tables later migrations create (which must enable RLS themselves:
  tests/db/test_rls.py fails on any table with ``workspace_id`` that does not).
- every tenant table gets ENABLE and FORCE ROW LEVEL SECURITY and one policy,
  ``tenant_isolation``, for every command (USING and WITH CHECK): the row's workspace
  id must be in the transaction-local ``app.workspace_ids`` (app.db.tenant). Unset or
  empty means no row at all.
- two SECURITY DEFINER functions let authentication learn, before any context exists,
  a user's active workspace ids and an API key by its prefix. They run as the owner of
  this migration, which must therefore bypass row-level security (superuser or
  BYPASSRLS): FORCE applies to table owners too. The migration refuses otherwise.

On SQLite this revision does nothing (no roles, no row-level security there).
The role is cluster-wide and may serve other databases: the downgrade revokes what it
granted here but keeps the role (``DROP ROLE`` by hand).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tenant tables at this revision (frozen: later tables are a later migration's job).
# Each carries workspace_id, except workspaces, keyed by its own id.
TENANT_TABLES: tuple[str, ...] = (
    "workspaces",
    "intelligence_settings",
    "ai_providers",
    "subscriptions",
    "integrations",
    "roles",
    "role_permissions",
    "members",
    "teams",
    "team_members",
    "conversations",
    "conversation_participants",
    "conversation_transcripts",
    "conversation_insights",
    "action_items",
    "share_links",
    "api_keys",
    "audit_events",
)
POLICY = "tenant_isolation"


def _quote(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote_identifier(name)


def _scalar(sql: str, **params: object) -> object:
    return op.get_bind().execute(sa.text(sql), params).scalar_one()


def _check_owner_bypasses_rls() -> None:
    bypasses = _scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user"
    )
    if not bypasses:
        raise RuntimeError(
            "Row-level security migration: the migration role must be a superuser or have "
            "BYPASSRLS (FORCE ROW LEVEL SECURITY applies to table owners, and the "
            "authentication functions run as this role). Run migrations with "
            "MIGRATION_DATABASE_URL pointing at such a role."
        )


def _ensure_app_role(role: str) -> None:
    q = _quote(role)
    if role == _scalar("SELECT current_user::text"):
        raise RuntimeError(
            f"The application role {role} must not be the role that runs migrations: set "
            "MIGRATION_DATABASE_URL to the owner and DATABASE_URL to the application role."
        )
    # Roles are cluster-wide: another database (or a concurrent migration) may have
    # created it already.
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN
                BEGIN
                    CREATE ROLE {q} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE
                        NOREPLICATION;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;
        END
        $$
        """
    )
    unsafe = _scalar(
        "SELECT r.rolsuper OR r.rolbypassrls OR pg_catalog.pg_has_role(r.oid, "
        "(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user), 'MEMBER') "
        "FROM pg_catalog.pg_roles r WHERE r.rolname = :role",
        role=role,
    )
    if unsafe:
        raise RuntimeError(
            f"The application role {role} exists but row-level security would not bind it "
            "(it is a superuser, has BYPASSRLS, or is a member of the migration role): "
            f"ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS and revoke that membership."
        )


def _grant(role: str, schema: str) -> None:
    r, s = _quote(role), _quote(schema)
    op.execute(
        f"""
        DO $$
        BEGIN
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO {r}', current_database());
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'cannot grant CONNECT on the database: grant it as its owner';
        END
        $$
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA {s} TO {r}")
    # No TRUNCATE (it ignores row-level security), no REFERENCES, no TRIGGER.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}")
    # The startup check reads the schema revision; only migrations write it.
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON TABLE {s}.alembic_version FROM {r}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}")


def _functions(role: str, schema: str) -> None:
    r, s = _quote(role), _quote(schema)
    # The policies' one input, parsed once per statement. A plain SQL function (no SET
    # clause, STABLE) is inlined by the planner, so `workspace_id = ANY (…)` stays an
    # index condition. Unset ('' after a transaction-local set ended, NULL before) and
    # empty both mean the empty set.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_allowed_workspace_ids() RETURNS integer[]
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$
            SELECT coalesce(
                pg_catalog.string_to_array(
                    nullif(pg_catalog.current_setting('app.workspace_ids', true), ''), ','
                )::integer[],
                '{{}}'::integer[]
            )
        $$
        """
    )
    # Authentication's two lookups before a context exists. SECURITY DEFINER: they run
    # as this migration's role (which bypasses RLS), with a search_path nobody can
    # plant objects in, and only the application role may call them.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_viewer_workspace_ids(p_user_id integer)
        RETURNS integer[]
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT coalesce(array_agg(m.workspace_id ORDER BY m.workspace_id), '{{}}')
            FROM {s}.members m
            WHERE m.user_id = p_user_id AND m.status = 'ACTIVE'
        $$
        """  # noqa: S608  (DDL; the only interpolation is the quoted schema name)
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_api_key_by_prefix(p_prefix text)
        RETURNS SETOF {s}.api_keys
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        ROWS 1
        AS $$
            SELECT k.* FROM {s}.api_keys k WHERE k.prefix = p_prefix
        $$
        """  # noqa: S608  (DDL; the only interpolation is the quoted schema name)
    )
    for fn in ("harmony_viewer_workspace_ids(integer)", "harmony_api_key_by_prefix(text)"):
        op.execute(f"REVOKE ALL ON FUNCTION {s}.{fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {s}.{fn} TO {r}")


def _protect(table: str, schema: str) -> None:
    t = f"{_quote(schema)}.{_quote(table)}"
    column = "id" if table == "workspaces" else "workspace_id"
    # A row filter, deliberately not an index condition: as `col = ANY(allowed)` the
    # planner used the policy as an index condition next to the query's own
    # `workspace_id = $1`, could not read that index in order any more (an array on the
    # leading column) and underestimated the rows, so every first page read and sorted the
    # whole workspace. `array_position(...) IS NOT NULL` is a cheap C function per row,
    # estimated as passing nearly every row: the ordered index scan stays, and a query that
    # forgot its filter still reads nothing outside the allowed workspaces.
    allowed = (
        f"array_position({_quote(schema)}.harmony_allowed_workspace_ids(), {column}) IS NOT NULL"
    )
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
    op.execute(f"CREATE POLICY {POLICY} ON {t} FOR ALL USING ({allowed}) WITH CHECK ({allowed})")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = get_settings().db_app_role
    schema = str(_scalar("SELECT current_schema()::text"))
    _check_owner_bypasses_rls()
    _ensure_app_role(role)
    _grant(role, schema)
    _functions(role, schema)
    for table in TENANT_TABLES:
        _protect(table, schema)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    role = get_settings().db_app_role
    schema = str(_scalar("SELECT current_schema()::text"))
    r, s = _quote(role), _quote(schema)
    for table in TENANT_TABLES:
        t = f"{s}.{_quote(table)}"
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
        op.execute(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.harmony_api_key_by_prefix(text)")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.harmony_viewer_workspace_ids(integer)")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.harmony_allowed_workspace_ids()")
    if _scalar("SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = :role", role=role):
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} "
            f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {r}"
        )
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} "  # noqa: S608  (DDL, quoted identifiers)
            f"REVOKE USAGE, SELECT ON SEQUENCES FROM {r}"
        )
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}")
        op.execute(f"REVOKE USAGE ON SCHEMA {s} FROM {r}")
