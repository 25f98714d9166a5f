-- The sent messages whose audit record is written, by idempotency key.
-- The record commits with the consumer's acknowledgement, the sent_mail row
-- at once, so a crash in between leaves a message sent but not audited;
-- the retry finds it a duplicate without a mark here and writes the record
-- then. A table of its own rather than a column of sent_mail: the mark is
-- inserted in the consumer's repeatable read transaction, where updating a
-- sent_mail row committed after its snapshot would fail. Messages sent
-- before it are taken as audited.

-- +goose Up
CREATE TABLE sent_mail_audited (
    idempotency_key text PRIMARY KEY
);
INSERT INTO sent_mail_audited (idempotency_key) SELECT idempotency_key FROM sent_mail;

-- +goose Down
DROP TABLE sent_mail_audited;
