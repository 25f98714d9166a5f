-- Idempotency-Key of POST /v1/orders: the order a key made (the key is
-- stored as its sha256, the request as a fingerprint, so a key reused for
-- another request is refused). The key is written before its order (it
-- reserves the order id), so it has no foreign key: a key whose order was
-- never stored lets the client's retry store it. Dead letters: messages the pipeline gave up
-- on, with the reason, for an operator to replay or discard.

-- +goose Up
CREATE TABLE idempotency_keys (
    key_hash    text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    order_id    text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE dead_letters (
    id          text        PRIMARY KEY,
    topic       text        NOT NULL,
    order_id    text        NOT NULL DEFAULT '',
    reason      text        NOT NULL,
    attempts    integer     NOT NULL,
    payload     bytea       NOT NULL,
    metadata    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    replayed_at timestamptz
);
CREATE INDEX dead_letters_order_id ON dead_letters (order_id);

-- +goose Down
DROP TABLE dead_letters;
DROP TABLE idempotency_keys;
