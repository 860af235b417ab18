-- The PostgreSQL roles, schema and tables of the crx audit log (PostgreSQL 14 or later).
--
-- Run once per log, as a superuser (or a role with CREATEROLE and CREATE on the database), with psql:
--
--   psql "postgresql://postgres@db.example/crx" -v ON_ERROR_STOP=1 \
--        -v schema=crx_audit -v owner=crx_audit_owner -v writer=crx_audit_writer \
--        -v writer_password="$(cat writer-password)" -f services/audit/postgres_roles.sql
--
-- then point the audit writer (and `crx audit verify`) at the application role:
--
--   CRX_AUDIT_DB=postgresql://crx_audit_writer@db.example/crx   (password in PGPASSWORD or ~/.pgpass)
--   CRX_AUDIT_PG_SCHEMA=crx_audit
--
-- Roles:
-- * owner (NOLOGIN): owns the schema, the tables and the append-only triggers. Only the owner (or a
--   superuser) could disable a trigger or grant more; no crx process connects as the owner.
-- * writer (LOGIN): the application role. USAGE on the schema and SELECT, INSERT on the three tables, nothing
--   else: UPDATE, DELETE and TRUNCATE fail with "permission denied" before any trigger runs, and it cannot
--   create, alter or drop anything.
--
-- The tables, indexes and triggers are in postgres_tables.sql (included below, so keep the two files side by
-- side), which services/audit/postgres_store.py `install()` runs too; tests/audit/test_postgres.py runs this
-- file and checks that both give the same catalog.

CREATE ROLE :"owner" NOLOGIN;
CREATE ROLE :"writer" LOGIN PASSWORD :'writer_password';
CREATE SCHEMA :"schema" AUTHORIZATION :"owner";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;

SET ROLE :"owner";

\ir postgres_tables.sql

REVOKE ALL ON :"schema".leaves, :"schema".nodes, :"schema".checkpoints FROM PUBLIC;
REVOKE ALL ON FUNCTION :"schema".refuse_change() FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO :"writer";
GRANT SELECT, INSERT ON :"schema".leaves, :"schema".nodes, :"schema".checkpoints TO :"writer";

RESET ROLE;
