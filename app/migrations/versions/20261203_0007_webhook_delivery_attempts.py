"""webhook delivery attempts: every attempt of a delivery, not only the latest

Both engines: ``webhook_delivery_attempts``, one row per attempt (its number, when it
started, the HTTP status or none, how long it took, why it failed), written by the
delivery worker with the attempt's result. Deleting a delivery deletes its attempts.
See app/models/webhooks.py.

PostgreSQL: row-level security as on every tenant table (ENABLE, FORCE,
``tenant_isolation``), the same policy as 0006's tables.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "tenant_isolation"
TABLE = "webhook_delivery_attempts"


def _q(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote_identifier(name)


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id", "delivery_id"],
            ["webhook_deliveries.workspace_id", "webhook_deliveries.id"],
            name="fk_webhook_delivery_attempts_delivery",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_delivery_attempts_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery_attempts")),
        sa.UniqueConstraint(
            "workspace_id", "delivery_id", "attempt", name="uq_webhook_delivery_attempts_attempt"
        ),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    s = _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))
    r = _q(get_settings().db_app_role)
    allowed = (
        f"array_position((SELECT {s}.harmony_allowed_workspace_ids()), workspace_id) IS NOT NULL"
    )
    t = f"{s}.{_q(TABLE)}"
    # Said again although 0002's default privileges grant it (see 0004). No TRUNCATE.
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {t} TO {r}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {s}.{_q(TABLE + '_id_seq')} TO {r}")
    op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
    op.execute(f"CREATE POLICY {POLICY} ON {t} FOR ALL USING ({allowed}) WITH CHECK ({allowed})")


def downgrade() -> None:
    op.drop_table(TABLE)
