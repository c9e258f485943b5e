"""webhooks: endpoints and the outbox of deliveries

Both engines: ``webhook_endpoints`` (a workspace's receivers: URL, events, the sealed
signing secret) and ``webhook_deliveries`` (one row per event per endpoint, written in
the transaction of the change; the delivery worker claims, sends and retries it).
See app/models/webhooks.py.

PostgreSQL:

- **Row-level security** as on every tenant table (ENABLE, FORCE, ``tenant_isolation``).
- ``harmony_webhook_due_workspaces(p_now, p_limit)`` (SECURITY DEFINER): the ids of the
  workspaces that have a delivery due at ``p_now``, and nothing else. The delivery worker runs
  across workspaces as the application role; it learns here where to look, then enters
  each workspace's signed context on its own (app/webhooks/worker.py), so every row it
  reads or changes still passes that workspace's policy. Only the application role may
  call it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

# DDL built from quoted identifiers (schema, role) and constants only:
# ruff: noqa: S608

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.config import get_settings

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "tenant_isolation"
TABLES = ("webhook_endpoints", "webhook_deliveries")
DUE = "harmony_webhook_due_workspaces(timestamptz, integer)"


def _q(name: str) -> str:
    return op.get_bind().dialect.identifier_preparer.quote_identifier(name)


def _tables() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_sealed", sa.String(length=200), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_endpoints_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_webhook_endpoints_created_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
        sa.UniqueConstraint("workspace_id", "id", name="uq_webhook_endpoints_workspace_id_id"),
    )
    op.create_index("ix_webhook_endpoints_workspace_id", "webhook_endpoints", ["workspace_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SUCCEEDED",
                "FAILED",
                name="webhook_delivery_status",
                native_enum=False,
                create_constraint=True,
                length=9,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id", "endpoint_id"],
            ["webhook_endpoints.workspace_id", "webhook_endpoints.id"],
            name="fk_webhook_deliveries_endpoint",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_webhook_deliveries_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("workspace_id", "id", name="uq_webhook_deliveries_workspace_id_id"),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint",
        "webhook_deliveries",
        ["workspace_id", "endpoint_id", "id"],
    )
    op.create_index(
        "ix_webhook_deliveries_next_attempt_at", "webhook_deliveries", ["next_attempt_at"]
    )


def upgrade() -> None:
    _tables()
    if op.get_bind().dialect.name != "postgresql":
        return
    s = _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))
    r = _q(get_settings().db_app_role)
    allowed = (
        f"array_position((SELECT {s}.harmony_allowed_workspace_ids()), workspace_id) IS NOT NULL"
    )
    for table in TABLES:
        t = f"{s}.{_q(table)}"
        # Said again although 0002's default privileges grant it (see 0004). No TRUNCATE.
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {t} TO {r}")
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {s}.{_q(table + '_id_seq')} TO {r}")
        op.execute(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {t}")
        op.execute(
            f"CREATE POLICY {POLICY} ON {t} FOR ALL USING ({allowed}) WITH CHECK ({allowed})"
        )
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {s}.harmony_webhook_due_workspaces(p_now timestamptz, p_limit integer)
        RETURNS SETOF integer
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
        AS $$
            SELECT d.workspace_id FROM {s}.webhook_deliveries d
            WHERE d.next_attempt_at <= p_now
            GROUP BY d.workspace_id
            ORDER BY pg_catalog.min(d.next_attempt_at)
            LIMIT p_limit
        $$
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {s}.{DUE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {s}.{DUE} TO {r}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        s = _q(str(op.get_bind().execute(sa.text("SELECT current_schema()::text")).scalar_one()))
        op.execute(f"DROP FUNCTION IF EXISTS {s}.{DUE}")
    op.drop_index("ix_webhook_deliveries_next_attempt_at", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_endpoints_workspace_id", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
