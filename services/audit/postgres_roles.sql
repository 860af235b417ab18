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
-- The tables are the same as those services/audit/postgres_store.py `install()` creates (a test checks that
-- the catalogs match); tests/audit/test_postgres.py runs this file.

CREATE ROLE :"owner" NOLOGIN;
CREATE ROLE :"writer" LOGIN PASSWORD :'writer_password';
CREATE SCHEMA :"schema" AUTHORIZATION :"owner";
REVOKE ALL ON SCHEMA :"schema" FROM PUBLIC;

SET ROLE :"owner";

CREATE TABLE :"schema".leaves (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    submission_id TEXT,
    message_id TEXT,
    recipients TEXT NOT NULL,
    outcome TEXT NOT NULL,
    leaf BYTEA NOT NULL
);
CREATE INDEX leaves_submission ON :"schema".leaves (submission_id);
CREATE INDEX leaves_message ON :"schema".leaves (message_id);
CREATE INDEX leaves_event_type ON :"schema".leaves (event_type);
CREATE TABLE :"schema".nodes (
    level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx BIGINT NOT NULL CHECK (idx >= 0),
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE :"schema".checkpoints (
    size BIGINT PRIMARY KEY CHECK (size > 0),
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);

CREATE FUNCTION :"schema".refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE TRIGGER leaves_append_only BEFORE UPDATE OR DELETE ON :"schema".leaves
    FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
CREATE TRIGGER leaves_no_truncate BEFORE TRUNCATE ON :"schema".leaves
    FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();
CREATE TRIGGER nodes_append_only BEFORE UPDATE OR DELETE ON :"schema".nodes
    FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
CREATE TRIGGER nodes_no_truncate BEFORE TRUNCATE ON :"schema".nodes
    FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON :"schema".checkpoints
    FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON :"schema".checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();

REVOKE ALL ON :"schema".leaves, :"schema".nodes, :"schema".checkpoints FROM PUBLIC;
REVOKE ALL ON FUNCTION :"schema".refuse_change() FROM PUBLIC;
GRANT USAGE ON SCHEMA :"schema" TO :"writer";
GRANT SELECT, INSERT ON :"schema".leaves, :"schema".nodes, :"schema".checkpoints TO :"writer";

RESET ROLE;
