-- The tables, indexes and append-only triggers of one crx audit log, in the schema :"schema" (PostgreSQL 14+).
--
-- One definition, two users: postgres_roles.sql includes it (psql \ir) as the owner role, and
-- services/audit/postgres_store.py `install()` runs it (with :"schema" bound) where crx creates its own
-- tables. Every statement is idempotent.

CREATE TABLE IF NOT EXISTS :"schema".leaves (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    submission_id TEXT,
    message_id TEXT,
    recipients TEXT NOT NULL,
    outcome TEXT NOT NULL,
    leaf BYTEA NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_submission ON :"schema".leaves (submission_id);
CREATE INDEX IF NOT EXISTS leaves_message ON :"schema".leaves (message_id);
CREATE INDEX IF NOT EXISTS leaves_event_type ON :"schema".leaves (event_type);
CREATE TABLE IF NOT EXISTS :"schema".nodes (
    level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx BIGINT NOT NULL CHECK (idx >= 0),
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS :"schema".checkpoints (
    size BIGINT PRIMARY KEY CHECK (size > 0),
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);

CREATE OR REPLACE FUNCTION :"schema".refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;

CREATE OR REPLACE TRIGGER leaves_append_only BEFORE UPDATE OR DELETE ON :"schema".leaves
    FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
CREATE OR REPLACE TRIGGER leaves_no_truncate BEFORE TRUNCATE ON :"schema".leaves
    FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();
CREATE OR REPLACE TRIGGER nodes_append_only BEFORE UPDATE OR DELETE ON :"schema".nodes
    FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
CREATE OR REPLACE TRIGGER nodes_no_truncate BEFORE TRUNCATE ON :"schema".nodes
    FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();
CREATE OR REPLACE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON :"schema".checkpoints
    FOR EACH ROW EXECUTE FUNCTION :"schema".refuse_change();
CREATE OR REPLACE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON :"schema".checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION :"schema".refuse_change();
