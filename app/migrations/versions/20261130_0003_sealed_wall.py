"""sealed wall: a signed tenant context, accounts behind row-level security,
append-only audit, sessions that can be ended

Both engines: ``users.sessions_valid_after`` (``signOutEverywhere``: tokens issued
before it are refused); API key hashes move from ``api_keys.secret_hash`` to a table of
their own, ``api_key_secrets``.

PostgreSQL only (see docs/authorization.md, "Threat model"):

- **The context is signed.** Migration 0002's policies read ``app.workspace_ids``, a
  setting any role can set: one SQL injection could name every workspace. From here the
  policies read ``app.context`` = ``v1:<user id>:<workspace ids>:<expires>:<mac>``,
  where ``mac`` is HMAC-SHA256 over the rest with a key only the gateway process and the
  owner-only table ``harmony_context_key`` hold (the application role cannot read it;
  ``app.db.migrations.upgrade`` installs the key the gateway derives from its secret).
  ``harmony_allowed_workspace_ids()`` and ``harmony_context_user_id()`` verify it
  (SECURITY DEFINER); each policy calls them as a scalar subquery, so once per table a
  statement reads, not per row. Anything unsigned, altered or expired allows nothing.
- **Authentication's lookups need the credential.** ``harmony_sign_in(credential)``
  takes a context the gateway signed for one user with ``*`` as its workspaces (it has
  just verified that user's token), derives the workspaces from the user's ACTIVE
  memberships, sets the signed context itself, and returns the account.
  ``harmony_api_key_sign_in(prefix, secret_hash)`` returns an API key only to a caller
  that presents its secret's hash. The 0002 lookups that answered any user id or any
  key prefix (with its hash) are dropped.
- **Accounts are tenant-visible only.** ``users`` gets row-level security: a session
  reads its own account and the accounts known to its workspaces
  (``workspace_accounts``: everyone who was ever a member, kept by a trigger on
  ``members`` and filled here from members and content), and updates only its own.
- **The audit log is append-only** for the application role: INSERT and SELECT, no
  UPDATE, DELETE or TRUNCATE.
- **Key hashes are write-only** for it: it may INSERT into ``api_key_secrets`` and
  nothing else.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

# DDL built from quoted identifiers (schema, role) and constants only:
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tenant tables of 0002 (frozen), each re-protected with the signed context.
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

# Where accounts are referred to from a workspace's rows: the accounts it knows.
ACCOUNT_REFERENCES: tuple[tuple[str, str], ...] = (
    ("members", "user_id"),
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


def _scalar(sql: str) -> object:
    return op.get_bind().execute(sa.text(sql)).scalar_one()


def _mac(body: str) -> str:
    """SQL for the hex HMAC-SHA256 of ``body`` (a text expression) under the installed key
    (``pads``: PostgreSQL has SHA-256 but no HMAC; app.db.tenant.key_pads)."""
    return (
        "pg_catalog.encode(pg_catalog.sha256(pads.outer_pad || pg_catalog.sha256("
        f"pads.inner_pad || pg_catalog.textsend({body}))), 'hex')"
    )


def _verify(s: str, context: str) -> str:
    """PL/pgSQL that sets ``parts`` to the four signed fields of ``context`` (an
    expression: ``<v1:user:workspaces:expires>:<mac>``) or to NULL unless it is signed with
    the installed key and not expired. The signature is checked before any field is
    read, so nothing unsigned is ever parsed or cast. Kept to a few expressions: each is
    set up once per transaction, and the policies call this once per table a statement
    reads."""
    return f"""
        SELECT k.inner_pad, k.outer_pad INTO pads FROM {s}.harmony_context_key k;
        IF NOT FOUND OR pg_catalog.right({context}, 64)
                IS DISTINCT FROM {_mac(f"pg_catalog.left({context}, -65)")} THEN
            parts := NULL;
        ELSE
            parts := pg_catalog.string_to_array(pg_catalog.left({context}, -65), ':');
            IF parts[1] IS DISTINCT FROM 'v1'
               OR parts[4]::bigint < pg_catalog.date_part('epoch', pg_catalog.now()) THEN
                parts := NULL;
            END IF;
        END IF;
    """


def _definer(
    s: str, signature: str, returns: str, body: str, volatility: str = "STABLE", declare: str = ""
) -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.{signature} RETURNS {returns}
        LANGUAGE plpgsql {volatility} SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $fn$
        DECLARE
            parts text[];
            pads record;
            {declare}
        BEGIN
            {body}
        END
        $fn$
        """
    )


_BAD_CREDENTIAL = """
            IF parts IS NULL OR parts[3] <> '*' THEN
                RAISE EXCEPTION 'harmony: credential not signed with this database''s '
                    'context key (run `python -m app migrate` with the gateway''s secret)'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
"""


def _functions(s: str) -> None:
    # The policies' inputs: the verified workspace ids and user id of the context.
    setting = "pg_catalog.current_setting('app.context', true)"
    _definer(
        s,
        "harmony_allowed_workspace_ids()",
        "integer[]",
        _verify(s, setting)
        + """
            IF parts IS NULL OR parts[3] = '' OR parts[3] = '*' THEN
                RETURN '{}'::integer[];
            END IF;
            RETURN pg_catalog.string_to_array(parts[3], ',')::integer[];
        """,
    )
    _definer(
        s,
        "harmony_context_user_id()",
        "integer",
        _verify(s, setting)
        + """
            IF parts IS NULL OR parts[3] = '*' THEN
                RETURN NULL;  -- a sign-in credential is not a context
            END IF;
            RETURN parts[2]::integer;
        """,
    )
    _definer(
        s,
        "harmony_context_email()",
        "text",
        _verify(s, setting)
        + f"""
            IF parts IS NULL OR parts[3] = '*' THEN
                RETURN NULL;
            END IF;
            RETURN (SELECT pg_catalog.lower(u.email) FROM {s}.users u
                    WHERE u.id = parts[2]::integer);
        """,
    )
    # Sign-in: the gateway's signed word for one user in, that user's context and account
    # out (a row of NULLs when there is no such account). Raises on a credential it cannot
    # verify: that is a misconfigured key (or an attack), never a user's mistake.
    _definer(
        s,
        "harmony_sign_in(p_credential text)",
        f"{s}.users",
        _verify(s, "p_credential")
        + _BAD_CREDENTIAL
        + f"""
            SELECT u.* INTO account FROM {s}.users u WHERE u.id = parts[2]::integer;
            context := 'v1:' || parts[2] || ':' || (
                SELECT coalesce(pg_catalog.string_agg(m.workspace_id::text, ','
                                                      ORDER BY m.workspace_id), '')
                FROM {s}.members m
                WHERE m.user_id = parts[2]::integer AND m.status = 'ACTIVE'
                  AND account.status = 'ACTIVE'
            ) || ':' || parts[4];
            PERFORM pg_catalog.set_config('app.context', context || ':' || {_mac("context")}, true);
            RETURN account;
        """,
        "VOLATILE",
        f"account {s}.users; context text;",
    )
    # The account alone, for a request that reads nothing else (no context is set).
    _definer(
        s,
        "harmony_account(p_credential text)",
        f"{s}.users",
        _verify(s, "p_credential")
        + _BAD_CREDENTIAL
        + f"""
            SELECT u.* INTO account FROM {s}.users u WHERE u.id = parts[2]::integer;
            RETURN account;
        """,
        declare=f"account {s}.users;",
    )
    # An API key, only for the caller who holds its secret.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_api_key_sign_in(p_prefix text, p_secret_hash text)
        RETURNS SETOF {s}.api_keys
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        ROWS 1
        AS $$
            SELECT k.* FROM {s}.api_keys k
            JOIN {s}.api_key_secrets h ON h.workspace_id = k.workspace_id AND h.api_key_id = k.id
            WHERE k.prefix = p_prefix AND h.secret_hash = p_secret_hash
        $$
        """
    )
    r = _q(get_settings().db_app_role)
    for fn in (
        "harmony_allowed_workspace_ids()",
        "harmony_context_user_id()",
        "harmony_context_email()",
        "harmony_sign_in(text)",
        "harmony_account(text)",
        "harmony_api_key_sign_in(text, text)",
    ):
        op.execute(f"REVOKE ALL ON FUNCTION {s}.{fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {s}.{fn} TO {r}")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.harmony_api_key_by_prefix(text)")
    op.execute(f"DROP FUNCTION IF EXISTS {s}.harmony_viewer_workspace_ids(integer)")


def tenant_check(s: str, column: str) -> str:
    """The policy condition of a tenant table: its workspace is in the signed context.
    (A row filter, not an index condition: see migration 0002.)"""
    return f"array_position((SELECT {s}.harmony_allowed_workspace_ids()), {column}) IS NOT NULL"


def _protect(s: str, table: str, column: str = "workspace_id") -> None:
    t = f"{s}.{_q(table)}"
    allowed = tenant_check(s, column)
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
    op.execute(f"CREATE POLICY {POLICY} ON {t} FOR ALL USING ({allowed}) WITH CHECK ({allowed})")


def _key_table(s: str, r: str) -> None:
    op.execute(
        f"""
        CREATE TABLE {s}.harmony_context_key (
            id boolean PRIMARY KEY DEFAULT true CHECK (id),
            inner_pad bytea NOT NULL CHECK (length(inner_pad) = 64),
            outer_pad bytea NOT NULL CHECK (length(outer_pad) = 64)
        )
        """
    )
    # 0002's default privileges gave the application role DML on new tables: not this one.
    op.execute(f"REVOKE ALL ON TABLE {s}.harmony_context_key FROM PUBLIC, {r}")


def _workspace_accounts(s: str, r: str) -> None:
    op.execute(
        f"""
        CREATE TABLE {s}.workspace_accounts (
            workspace_id integer NOT NULL REFERENCES {s}.workspaces (id) ON DELETE CASCADE,
            user_id integer NOT NULL REFERENCES {s}.users (id),
            PRIMARY KEY (workspace_id, user_id)
        )
        """
    )
    op.execute(
        f"CREATE INDEX ix_workspace_accounts_user_id ON {s}.workspace_accounts "
        "(user_id, workspace_id)"
    )
    op.execute(f"REVOKE ALL ON TABLE {s}.workspace_accounts FROM PUBLIC, {r}")
    op.execute(f"GRANT SELECT, INSERT ON TABLE {s}.workspace_accounts TO {r}")
    known = " UNION ".join(
        f"SELECT workspace_id, {column} FROM {s}.{_q(table)} WHERE {column} IS NOT NULL"
        for table, column in ACCOUNT_REFERENCES
    )
    op.execute(f"INSERT INTO {s}.workspace_accounts (workspace_id, user_id) {known}")
    # Runs as the inserting role, under its context: a member row it may write is in a
    # workspace the context allows, so the account row passes the same check.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_remember_account() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
        AS $fn$
        BEGIN
            INSERT INTO {s}.workspace_accounts (workspace_id, user_id)
            VALUES (NEW.workspace_id, NEW.user_id) ON CONFLICT DO NOTHING;
            RETURN NULL;
        END
        $fn$
        """
    )
    op.execute(
        f"CREATE TRIGGER remember_account AFTER INSERT OR UPDATE OF user_id ON {s}.members "
        f"FOR EACH ROW EXECUTE FUNCTION {s}.harmony_remember_account()"
    )
    _protect(s, "workspace_accounts")


def _users(s: str) -> None:
    t = f"{s}.users"
    me = f"id = (SELECT {s}.harmony_context_user_id())"
    # Written as `(…) IS NOT NULL`, not EXISTS: the planner estimates it passes nearly
    # every row (as it does the tenant tables' array_position filter), so a page of
    # members joined with their accounts keeps its ordered index scan; with EXISTS it
    # expected half the rows to go and sorted the whole workspace instead.
    known = (
        f"(SELECT 1 FROM {s}.workspace_accounts wa WHERE wa.user_id = users.id LIMIT 1) IS NOT NULL"
    )
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    # `known` first: a context's user id is verified (its InitPlan run) only for an account
    # its workspaces do not know, which is rare.
    op.execute(f"CREATE POLICY account_visible ON {t} FOR SELECT USING ({known} OR {me})")
    op.execute(f"CREATE POLICY account_own ON {t} FOR UPDATE USING ({me}) WITH CHECK ({me})")
    # No INSERT or DELETE policy: accounts are created and removed by operators only.


def _api_key_secrets() -> None:
    """Key hashes move out of ``api_keys`` into a table of their own (both engines)."""
    op.create_table(
        "api_key_secrets",
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "api_key_id"],
            ["api_keys.workspace_id", "api_keys.id"],
            name=op.f("fk_api_key_secrets_workspace_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_api_key_secrets_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_api_key_secrets")),
    )
    op.execute(
        "INSERT INTO api_key_secrets (api_key_id, workspace_id, secret_hash) "
        "SELECT id, workspace_id, secret_hash FROM api_keys"
    )
    # Native on both engines (SQLite >= 3.35); a batch would reflect `users` through the
    # foreign keys, whose expression index it cannot read.
    op.execute("ALTER TABLE api_keys DROP COLUMN secret_hash")


def upgrade() -> None:
    # A plain ADD COLUMN on both engines (a batch on SQLite would reflect `users`, whose
    # expression index it cannot read).
    op.add_column("users", sa.Column("sessions_valid_after", sa.DateTime(timezone=True)))
    _api_key_secrets()
    if op.get_bind().dialect.name != "postgresql":
        return
    s = _q(str(_scalar("SELECT current_schema()::text")))
    r = _q(get_settings().db_app_role)
    _key_table(s, r)
    # The application role writes a key's hash once and never reads it back: only
    # harmony_api_key_sign_in compares it.
    op.execute(f"REVOKE ALL ON TABLE {s}.api_key_secrets FROM PUBLIC, {r}")
    op.execute(f"GRANT INSERT ON TABLE {s}.api_key_secrets TO {r}")
    _protect(s, "api_key_secrets")
    _functions(s)
    for table in TENANT_TABLES:
        _protect(s, table, "id" if table == "workspaces" else "workspace_id")
    _workspace_accounts(s, r)
    _users(s)
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON TABLE {s}.audit_events FROM {r}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Going back would hand the tenant wall to a setting any role can forge again.
        raise NotImplementedError(
            "0003 is not reversible on PostgreSQL: restore a backup taken before it"
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("secret_hash", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE api_keys SET secret_hash = (SELECT h.secret_hash FROM api_key_secrets h "
        "WHERE h.api_key_id = api_keys.id)"
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("secret_hash", nullable=False)
    op.drop_table("api_key_secrets")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("sessions_valid_after")
