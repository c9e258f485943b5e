"""invitations: addMember invites an e-mail address; its owner accepts or declines

Both engines: the ``invitations`` table (app/models/invitations.py): the e-mail address
as typed, the role and teams to give on acceptance, who invited, when; one pending
invitation per workspace and address (``lower(email)``).

PostgreSQL:

- **Row-level security** as on every tenant table (ENABLE, FORCE, one
  ``tenant_isolation`` policy for every command), with one more way in for reading and
  deleting (USING, not WITH CHECK): a row is also visible to the account whose e-mail
  it is addressed to (``harmony_context_email()``, migration 0003). The invitee is not
  in the workspace yet; this is how they find, accept or decline what was sent to them,
  and nothing else of the workspace. Writing a row (INSERT, UPDATE) still needs its
  workspace in the context: nobody invites themselves or edits the role they are
  invited with.
- ``harmony_viewer_invitations()`` (SECURITY DEFINER): the invitations addressed to the
  context's account, each with the names the invitee is shown (workspace, role, who
  invited), which row-level security keeps from them until they join.
- ``harmony_viewer_membership_workspace_ids()`` (SECURITY DEFINER): the workspaces of
  every membership of the context's account, deactivated ones included (the sign-in
  context has only the ACTIVE ones): account deletion removes them all.

Both functions act only for the account of the verified context; only the application
role may call them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

# DDL built from quoted identifiers (schema, role) and constants only:
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "tenant_isolation"
FUNCTIONS = (
    "harmony_viewer_invitations()",
    "harmony_viewer_membership_workspace_ids()",
)


def _q(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote_identifier(name)


def _schema() -> str:
    return _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))


def _table() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("team_ids", sa.JSON(), nullable=False),
        sa.Column("invited_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_invitations_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by_user_id"],
            ["users.id"],
            name=op.f("fk_invitations_invited_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("workspace_id", "id", name="uq_invitations_workspace_id_id"),
    )
    # Expression indexes (as for users.email in 0001).
    op.create_index(
        "ux_invitations_workspace_id_email_lower",
        "invitations",
        ["workspace_id", sa.text("lower(email)")],
        unique=True,
    )
    op.create_index("ix_invitations_email_lower", "invitations", [sa.text("lower(email)")])


def _protect(s: str) -> None:
    t = f"{s}.invitations"
    in_workspace = (
        f"array_position((SELECT {s}.harmony_allowed_workspace_ids()), workspace_id) IS NOT NULL"
    )
    addressed = f"lower(email) = (SELECT {s}.harmony_context_email())"
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
    # USING (which rows a statement sees: SELECT, and the rows UPDATE and DELETE touch)
    # adds the invitee's way in; WITH CHECK (the rows INSERT and UPDATE leave behind) does
    # not: the invitee reads and removes (accepts, declines) what was sent to them, but
    # cannot write an invitation to themselves, nor change one's role or workspace.
    op.execute(
        f"CREATE POLICY {POLICY} ON {t} FOR ALL "
        f"USING (({in_workspace}) OR {addressed}) WITH CHECK ({in_workspace})"
    )


def _functions(s: str, r: str) -> None:
    # What the invitee is shown of each invitation. The role is the one acceptance gives:
    # the invitation's, or the workspace's built-in Member role when it was deleted since.
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_viewer_invitations()
        RETURNS TABLE (
            id integer, workspace_id integer, email text, role_id integer, team_ids json,
            invited_by_user_id integer, created_at timestamptz,
            workspace_name text, role_name text, invited_by_name text
        )
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT i.id, i.workspace_id, i.email::text, i.role_id, i.team_ids,
                   i.invited_by_user_id, i.created_at,
                   w.name::text,
                   coalesce(r.name, m.name)::text,
                   u.name::text
            FROM {s}.invitations i
            JOIN {s}.workspaces w ON w.id = i.workspace_id
            LEFT JOIN {s}.roles r ON r.workspace_id = i.workspace_id AND r.id = i.role_id
            LEFT JOIN {s}.roles m ON m.workspace_id = i.workspace_id AND m.builtin = 'MEMBER'
            LEFT JOIN {s}.users u ON u.id = i.invited_by_user_id
            WHERE pg_catalog.lower(i.email) = (SELECT {s}.harmony_context_email())
            ORDER BY i.id
        $$
        """
    )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_viewer_membership_workspace_ids()
        RETURNS integer[]
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT coalesce(pg_catalog.array_agg(m.workspace_id ORDER BY m.workspace_id), '{{}}')
            FROM {s}.members m JOIN {s}.users u ON u.id = m.user_id
            WHERE pg_catalog.lower(u.email) = (SELECT {s}.harmony_context_email())
        $$
        """
    )
    for fn in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {s}.{fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {s}.{fn} TO {r}")


def upgrade() -> None:
    _table()
    if op.get_bind().dialect.name != "postgresql":
        return
    s, r = _schema(), _q(get_settings().db_app_role)
    # 0002's default privileges already give the application role DML on new tables of
    # this schema, when the same role runs the migrations; said again here so a table
    # never depends on who created it. No TRUNCATE (it ignores row-level security).
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {s}.invitations TO {r}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {s}.invitations_id_seq TO {r}")
    _protect(s)
    _functions(s, r)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        s = _schema()
        for fn in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {s}.{fn}")
    op.drop_index("ix_invitations_email_lower", table_name="invitations")
    op.drop_index("ux_invitations_workspace_id_email_lower", table_name="invitations")
    op.drop_table("invitations")
