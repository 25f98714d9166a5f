-- Our own keys: sealed under the product's stock data key, known by a keyed
-- hash (HMAC under a vault-held key) that stays after the key is sold or
-- withdrawn, so the same key is never stocked or sold twice. A product's
-- sourcing mode lives beside it, apart from the catalog rows a sync rewrites.

-- +goose Up
CREATE TABLE stock_keys (
    id           text COLLATE "C" PRIMARY KEY CHECK (id <> ''),
    sku          text        NOT NULL CHECK (sku <> ''),
    key_hash     bytea       NOT NULL CHECK (length(key_hash) = 32),
    sealed       bytea,
    content_type text        NOT NULL CHECK (content_type <> ''),
    status       text        NOT NULL DEFAULT 'available' CHECK (status IN ('available', 'assigned', 'withdrawn')),
    item_id      text,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT stock_keys_key_hash_key UNIQUE (key_hash),
    -- An available key can be opened; one that left the stock cannot.
    CHECK ((status = 'available') = (sealed IS NOT NULL)),
    CHECK ((status = 'assigned') = (item_id IS NOT NULL))
);
-- Claims take the oldest available keys of a product; counts group by status.
CREATE INDEX stock_keys_sku_status_idx ON stock_keys (sku, status, created_at, id);
CREATE INDEX stock_keys_item_idx ON stock_keys (item_id) WHERE item_id IS NOT NULL;

CREATE TABLE product_sourcing (
    sku        text        PRIMARY KEY CHECK (sku <> ''),
    sourcing   text        NOT NULL CHECK (sourcing IN ('stock_only', 'supplier_only', 'stock_then_supplier')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE product_sourcing;
DROP TABLE stock_keys;
