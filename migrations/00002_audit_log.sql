-- The audit log (DESIGN §6): append-only and hash-chained. The application
-- numbers records 1, 2, 3… and chains each to the hash of the one before
-- (domain.ChainAuditRecord); the database refuses to change or remove them.
-- A superuser can still disable the trigger: the hash chain is what makes
-- such edits visible (ports.AuditLog.Verify).

-- +goose Up
CREATE TABLE audit_log (
    seq       bigint      PRIMARY KEY CHECK (seq > 0),
    -- Microseconds, as hashed: the application truncates before hashing.
    at        timestamptz NOT NULL,
    actor     text        NOT NULL CHECK (actor <> ''),
    action    text        NOT NULL CHECK (action <> ''),
    subject   text        NOT NULL,
    details   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
    -- A unique prev_hash means the chain cannot fork, even for a writer
    -- that bypasses the application's lock.
    prev_hash text        NOT NULL UNIQUE CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash      text        NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$;
-- +goose StatementEnd

-- Per statement, so that even a DELETE or UPDATE matching no row fails,
-- and TRUNCATE (which fires no row trigger) is refused too.
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
-- Rolling back must never destroy audit records: refuse while there are any
-- (export them, then empty the table deliberately, by hand).
-- +goose StatementBegin
LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_log) THEN
        RAISE EXCEPTION 'audit_log holds records: export them (GET /v1/admin/audit/export) and remove them deliberately before rolling back this migration';
    END IF;
END
$$;
-- +goose StatementEnd
DROP TRIGGER audit_log_append_only ON audit_log;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
