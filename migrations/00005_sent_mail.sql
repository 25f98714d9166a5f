-- The messages an SMTP mailer sent, by idempotency key: SMTP itself cannot
-- deduplicate, so a handler that runs twice asks here first.

-- +goose Up
CREATE TABLE sent_mail (
    idempotency_key text        PRIMARY KEY,
    sent_at         timestamptz NOT NULL
);

-- +goose Down
DROP TABLE sent_mail;
