#!/bin/sh
# Container entry point: optionally migrate (MIGRATE_ON_START=1), then serve.
set -eu
if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
  python -m app migrate
fi
exec python -m app serve --host 0.0.0.0 --port "${PORT:-8000}" --workers "${WEB_WORKERS:-2}"
