#!/usr/bin/env bash
# The PostgreSQL role and database of the case book (services/cases/store.py), shared by the router (which opens
# and closes cases) and the case service (which sends reminders and overdue notices). Run as a superuser, or a
# role with CREATEROLE and CREATEDB; idempotent, so it runs again on every `docker compose up` (the job
# postgres-init) and after a password change.
#   CASES_PASSWORD=... deploy/postgres/cases-db.sh [psql connection options, e.g. "postgresql://postgres@db/postgres"]
# Without options, psql connects with the usual PGHOST, PGPORT, PGUSER, PGPASSWORD and PGDATABASE.
# It makes the LOGIN role CASES_ROLE (default crx_cases; no superuser, CREATEDB or CREATEROLE) with the password
# CASES_PASSWORD, and the database CASES_DATABASE (default crx_cases) owned by it, which nobody else may
# connect to. The services connect as that role (CRX_CASES_DB=postgresql://crx_cases@HOST/crx_cases, the password
# in PGPASSWORD) and create their schema (CRX_CASES_PG_SCHEMA, default crx_cases) and table themselves.
set -euo pipefail
: "${CASES_PASSWORD:?the password of the case store role}"
role="${CASES_ROLE:-crx_cases}"
database="${CASES_DATABASE:-crx_cases}"

# psql variables (:"name" an identifier, :'name' a literal) are quoted by psql, so no value is spliced into SQL.
psql -X -q -v ON_ERROR_STOP=1 -v role="$role" -v password="$CASES_PASSWORD" -v database="$database" "$@" <<'SQL'
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec
ALTER DATABASE :"database" OWNER TO :"role";
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL
echo "case store ready: role $role, database $database" >&2
