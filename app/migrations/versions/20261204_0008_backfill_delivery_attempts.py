"""backfill delivery attempts: the last attempt of each delivery finished before 0007

Both engines. Before 0007 a delivery kept only its latest attempt, in its own ``last_*``
columns; 0007 began listing every attempt but left earlier deliveries with none. For each
delivery that has finished (SUCCEEDED or FAILED) and has no attempt row yet, this writes
the one attempt it still knows: number ``attempts``, started at ``last_attempt_at``, with
its status code, duration and error. The attempts before that one were never stored.

A PENDING delivery is left alone: a worker may be sending it right now (its ``attempts``
already counts that send while ``last_*`` still hold the attempt before), and the row it
writes must not collide with a guess. Idempotent (rows that exist are skipped), so a
re-run changes nothing. Runs as the migration role, which bypasses row-level security
(0002), over every workspace by nature.

Downgrade removes nothing: the rows are indistinguishable from the worker's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO webhook_delivery_attempts
            (workspace_id, delivery_id, attempt, started_at, status_code, duration_ms, error)
        SELECT d.workspace_id, d.id, d.attempts, d.last_attempt_at, d.last_status_code,
               COALESCE(d.last_duration_ms, 0), d.last_error
        FROM webhook_deliveries AS d
        WHERE d.status IN ('SUCCEEDED', 'FAILED')
          AND d.attempts > 0
          AND d.last_attempt_at IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM webhook_delivery_attempts AS a
              WHERE a.workspace_id = d.workspace_id AND a.delivery_id = d.id
                AND a.attempt = d.attempts
          )
        """
    )


def downgrade() -> None:
    pass
