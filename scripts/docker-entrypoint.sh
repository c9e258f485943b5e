#!/bin/sh
# Container entry point (Dockerfile, compose.yaml).
#   (no arguments)  migrate first when MIGRATE_ON_START=1, then serve on 0.0.0.0:$PORT
#                   with $WEB_WORKERS uvicorn workers
#   ARGS…           run `python -m app ARGS…` instead: `migrate` (compose's one-shot
#                   service), `seed --demo`, `token EMAIL`, `account create EMAIL`, …
# On PostgreSQL, DATABASE_URL is the application role (row-level security binds it) and
# MIGRATION_DATABASE_URL the owner role that runs migrations. Migrating on start is safe
# from every replica at once: the runs serialize on an advisory lock (docs/scaling.md).
set -eu
if [ "$#" -gt 0 ]; then
  exec python -m app "$@"
fi
# Prometheus metrics of every worker, summed by GET /metrics: an empty directory per start.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/harmony-metrics}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
  python -m app migrate
fi
exec python -m app serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WEB_WORKERS:-2}"
