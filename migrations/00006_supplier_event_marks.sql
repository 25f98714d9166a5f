-- The newest change time seen per supplier entity ("order:<id>",
-- "product:<id>"), so that supplier webhooks delivered out of order are
-- recognised as stale. Order items are found by their id (the supplier's
-- orderExternalId), which is already the primary key of order_items.

-- +goose Up
CREATE TABLE supplier_event_marks (
    entity     text        PRIMARY KEY,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE supplier_event_marks;
