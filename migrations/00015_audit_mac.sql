-- The audit trail proves it is whole (DESIGN §6, issue 17 item 3). The hash
-- chain alone lets anyone with write access to the database append a
-- record with a correct hash, or cut the tail off: each record now also
-- carries a MAC (HMAC-SHA256, lowercase hex) under the audit MAC key, a data
-- key the database holds only wrapped by the key vault. Records chained
-- before the key existed have none: the first keyward start with the key
-- adopts them with one MACed record (audit.mac_adopted) that names the last
-- of them; every record after it must carry a MAC.
--
-- A staged record (audit_pending) carries a MAC over its content made when
-- it was staged; the sealer chains only rows whose MAC verifies and moves
-- the others to audit_quarantine. Each staged record also carries a
-- random nonce, covered by its MAC and kept in audit_log under a unique
-- index: a staged row copied (INSERT ... SELECT FROM audit_pending) has a
-- valid MAC but a nonce already chained or staged before it, and the
-- sealer quarantines it. Records adopted from before have none.

-- +goose Up
ALTER TABLE audit_log ADD COLUMN mac text CHECK (mac ~ '^[0-9a-f]{64}$');
ALTER TABLE audit_pending ADD COLUMN mac text CHECK (mac ~ '^[0-9a-f]{64}$');
ALTER TABLE audit_log ADD COLUMN nonce text UNIQUE CHECK (nonce ~ '^[0-9a-f]{32}$');
ALTER TABLE audit_pending ADD COLUMN nonce text CHECK (nonce ~ '^[0-9a-f]{32}$');

-- Rows the sealer refused, kept as they were staged for an operator to
-- look at: never chained, never silently dropped. pending_id is not unique:
-- a forged row may reuse an id.
CREATE TABLE audit_quarantine (
    id             bigserial   PRIMARY KEY,
    pending_id     bigint      NOT NULL,
    at             timestamptz,
    actor          text,
    action         text,
    subject        text,
    details        jsonb,
    mac            text,
    nonce          text,
    reason         text        NOT NULL,
    quarantined_at timestamptz NOT NULL DEFAULT now()
);

-- A plain DELETE on audit_pending would make a staged record vanish before
-- it is chained. Only the sealer's transaction, which sets
-- keyward.audit_seal = 'on' with SET LOCAL and moves what it deletes into
-- audit_log or audit_quarantine, may delete. A role that knows the setting
-- can still set it: this stops mistakes and casual edits; the MAC and the
-- checkpoints are what an attacker cannot forge.
-- +goose StatementBegin
CREATE FUNCTION audit_pending_sealer_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('keyward.audit_seal', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'audit_pending rows leave only through the audit sealer: % is not allowed', TG_OP;
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_pending_sealer_only
    BEFORE DELETE ON audit_pending
    FOR EACH STATEMENT EXECUTE FUNCTION audit_pending_sealer_only();

-- Once a record carries a MAC every later one must (AuditTrailVerifier): a
-- process of the version before, still running after this migration,
-- would append records without one and break the trail for good. Refuse
-- them at the door. The partial index makes the check one index probe.
CREATE INDEX audit_log_maced_idx ON audit_log (seq) WHERE mac IS NOT NULL;

-- +goose StatementBegin
CREATE FUNCTION audit_log_mac_required() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.mac IS NULL AND EXISTS (SELECT 1 FROM audit_log WHERE mac IS NOT NULL LIMIT 1) THEN
        RAISE EXCEPTION 'audit_log record % has no MAC but the trail is MACed: is a keyward process older than this schema still running?', NEW.seq;
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_mac_required
    BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_mac_required();

-- +goose Down
-- Never throw away MACs, refused rows, or the MAC a staged row needs to be
-- chained: refuse while there are any.
-- +goose StatementBegin
LOCK TABLE audit_log, audit_pending IN ACCESS EXCLUSIVE MODE;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM audit_log WHERE mac IS NOT NULL) OR EXISTS (SELECT 1 FROM audit_quarantine)
        OR EXISTS (SELECT 1 FROM audit_pending WHERE mac IS NOT NULL) THEN
        RAISE EXCEPTION 'audit_log holds MACs, audit_pending holds MACed records or audit_quarantine holds refused rows: a rollback would lose what proves the trail whole; export them (and let the sealer empty audit_pending) before rolling back this migration';
    END IF;
END
$$;
-- +goose StatementEnd
DROP TRIGGER audit_log_mac_required ON audit_log;
DROP FUNCTION audit_log_mac_required();
DROP INDEX audit_log_maced_idx;
DROP TRIGGER audit_pending_sealer_only ON audit_pending;
DROP FUNCTION audit_pending_sealer_only();
DROP TABLE audit_quarantine;
ALTER TABLE audit_pending DROP COLUMN nonce, DROP COLUMN mac;
ALTER TABLE audit_log DROP COLUMN nonce, DROP COLUMN mac;
