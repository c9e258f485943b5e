#!/bin/sh
# Container entry point: optionally migrate (MIGRATE_ON_START=1), then serve.
# On PostgreSQL, DATABASE_URL is the application role (row-level security binds it)
# and MIGRATION_DATABASE_URL the owner role that runs migrations.
set -eu
# Prometheus metrics of every worker, aggregated by GET /metrics: a fresh directory per start.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/harmony-metrics}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
  python -m app migrate
fi
exec python -m app serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WEB_WORKERS:-2}"
