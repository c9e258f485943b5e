"""operator audit: the operators' own log, kept outside every workspace

Both engines: the ``operator_audit`` table (app/models/operator.py). A record says who
(the operator), when, what (the action, the workspace's id, slug and name, counts and
states in ``details``) and why (the reason, e.g. a ticket reference). It must survive
the workspace it describes: ``python -m app workspace delete`` writes it in the same
transaction that deletes every row of the workspace, so ``workspace_id`` is no foreign
key.

PostgreSQL: this is not tenant data, and the gateway has no business with it. The
application role gets no privilege on the table or its sequence (0002's default
privileges granted it DML on every new table: revoked here), and row-level security is
enabled and forced with no policy at all, so that even a role later granted SELECT by
mistake reads nothing unless it bypasses row-level security (the owner role the CLI
and the migrations connect as does).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _q(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote_identifier(name)


def upgrade() -> None:
    op.create_table(
        "operator_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("workspace_slug", sa.String(length=63), nullable=False),
        sa.Column("workspace_name", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_audit")),
    )
    op.create_index(
        "ix_operator_audit_workspace_id", "operator_audit", ["workspace_id", "id"], unique=False
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    s = _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))
    r = _q(get_settings().db_app_role)
    op.execute(f"REVOKE ALL ON TABLE {s}.operator_audit FROM PUBLIC, {r}")
    op.execute(f"REVOKE ALL ON SEQUENCE {s}.operator_audit_id_seq FROM PUBLIC, {r}")
    op.execute(f"ALTER TABLE {s}.operator_audit ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {s}.operator_audit FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_index("ix_operator_audit_workspace_id", table_name="operator_audit")
    op.drop_table("operator_audit")
