#!/bin/sh
# First start of compose.yaml's PostgreSQL (docker-entrypoint-initdb.d): create the
# application role with the password of .env, before `python -m app migrate` runs.
# Migration 0002 finds the role and grants it table privileges; row-level security binds
# it (it is no superuser and cannot bypass RLS). The owner role is POSTGRES_USER.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="${DB_APP_ROLE:-harmony_app}" -v password="$HARMONY_APP_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'password';
SQL
