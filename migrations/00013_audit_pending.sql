-- Audit records written inside a business transaction (an order's status
-- change, a reveal, a data key) wait here until the sealer chains them into
-- audit_log (postgres.AuditLog.Seal): the business transaction only inserts
-- a row, so concurrent transactions no longer queue on the chain's lock,
-- and the record still commits or rolls back with the change it records.
-- The sealer moves rows in id order, under the chain's lock, in one
-- transaction: a row is in exactly one of the two tables.

-- +goose Up
CREATE TABLE audit_pending (
    id      bigserial   PRIMARY KEY,
    -- Microseconds, as hashed once chained.
    at      timestamptz NOT NULL,
    actor   text        NOT NULL CHECK (actor <> ''),
    action  text        NOT NULL CHECK (action <> ''),
    subject text        NOT NULL,
    details jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);

-- +goose StatementBegin
CREATE FUNCTION audit_pending_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_pending rows are only inserted and moved to audit_log: % is not allowed', TG_OP;
END;
$$;
-- +goose StatementEnd

-- Rows leave only by the sealer's DELETE, which moves them to audit_log in
-- the same transaction.
CREATE TRIGGER audit_pending_unchanged
    BEFORE UPDATE OR TRUNCATE ON audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_unchanged();

-- +goose Down
-- Never drop records still waiting for the chain: run keyward (or
-- `keyward audit verify`, which seals first) until the table is empty.
-- +goose StatementBegin
LOCK TABLE audit_pending IN ACCESS EXCLUSIVE MODE;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_pending) THEN
        RAISE EXCEPTION 'audit_pending holds records not yet chained: run keyward audit verify (it chains them) before rolling back this migration';
    END IF;
END
$$;
-- +goose StatementEnd
DROP TRIGGER audit_pending_unchanged ON audit_pending;
DROP TABLE audit_pending;
DROP FUNCTION audit_pending_unchanged();
