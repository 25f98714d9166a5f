-- Named admin API keys with roles (only the SHA-256 of a key is stored),
-- and the indexes behind the support desk's order list and order detail.

-- +goose Up
CREATE TABLE admin_keys (
    id         text        PRIMARY KEY,
    -- Insertion order, to list keys oldest first.
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    name       text        NOT NULL CHECK (name <> ''),
    role       text        NOT NULL CHECK (role IN ('admin', 'support')),
    key_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);

-- GET /v1/admin/orders pages newest first by id, filtered by email (any
-- case) or by
-- creation time (ids are UUIDv7, so created_at follows id closely).
CREATE INDEX orders_email_id_idx ON orders (lower(email), id DESC);
CREATE INDEX orders_created_at_idx ON orders (created_at);
-- The order detail lists an order's payment notifications.
CREATE INDEX payment_notifications_order_idx ON payment_notifications (order_id, id);

-- +goose Down
DROP INDEX payment_notifications_order_idx;
DROP INDEX orders_created_at_idx;
DROP INDEX orders_email_id_idx;
DROP TABLE admin_keys;
