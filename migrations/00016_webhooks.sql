-- Outbound webhooks: the shop's endpoints, one message per event and
-- endpoint (written in the transaction of the change it reports; the
-- table is the durable schedule of deliveries: due_at is the next attempt,
-- and a claim pushes it by a lease that lapses when a worker dies), and
-- every attempt made. Signing secrets are kept to sign with.

-- +goose Up
CREATE TABLE webhook_endpoints (
    id              text        PRIMARY KEY,
    url             text        NOT NULL,
    events          text[]      NOT NULL,
    description     text        NOT NULL DEFAULT '',
    disabled        boolean     NOT NULL DEFAULT false,
    secret          text        NOT NULL,
    previous_secret text        NOT NULL DEFAULT '',
    previous_until  timestamptz,
    failing_since   timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

CREATE TABLE webhook_messages (
    id          bigserial   PRIMARY KEY,
    event_id    text        NOT NULL,
    endpoint_id text        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    type        text        NOT NULL,
    order_id    text        NOT NULL DEFAULT '',
    body        bytea       NOT NULL,
    status      text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    due_at      timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_messages_due ON webhook_messages (endpoint_id, due_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_order ON webhook_messages (order_id) WHERE order_id <> '';
CREATE INDEX webhook_messages_created ON webhook_messages (created_at) WHERE status <> 'pending';

CREATE TABLE webhook_attempts (
    id          bigserial   PRIMARY KEY,
    message_id  bigint      NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    duration_ms integer     NOT NULL,
    http_status integer     NOT NULL DEFAULT 0,
    response    text        NOT NULL DEFAULT '',
    error       text        NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
