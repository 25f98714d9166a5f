-- A customer's claim that a revealed key does not work, and support's
-- decision on it. One open claim per item; approved claims are the
-- replacements an item had.

-- +goose Up
CREATE TABLE claims (
    id         text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    order_id   text        NOT NULL CHECK (order_id <> ''),
    item_id    text        NOT NULL CHECK (item_id <> ''),
    reason     text        NOT NULL CHECK (reason IN ('not_working', 'already_used', 'wrong_region', 'other')),
    message    text        NOT NULL CHECK (length(message) <= 2000),
    created_at timestamptz NOT NULL,
    status     text        NOT NULL CHECK (status IN ('open', 'approved', 'rejected')),
    decided_at timestamptz,
    decided_by text        NOT NULL DEFAULT '',
    source     text        NOT NULL DEFAULT '' CHECK (source IN ('', 'stock', 'supplier')),
    note       text        NOT NULL DEFAULT '' CHECK (length(note) <= 2000),
    forced     boolean     NOT NULL DEFAULT false,
    CHECK ((status = 'open') = (decided_at IS NULL)),
    CHECK ((status = 'approved') = (source <> ''))
);
CREATE UNIQUE INDEX claims_one_open_per_item ON claims (item_id) WHERE status = 'open';
CREATE INDEX claims_order_idx ON claims (order_id, id DESC);
CREATE INDEX claims_status_idx ON claims (status, id DESC);
CREATE INDEX claims_item_idx ON claims (item_id) WHERE status = 'approved';

-- +goose Down
DROP TABLE claims;
