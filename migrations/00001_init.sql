-- keyward's first schema. Money is numeric, never float. Identifiers that
-- the application pages through (order ids, skus) use the "C" collation so
-- that SQL orders them byte by byte, as Go compares strings.

-- +goose Up
CREATE TABLE orders (
    id                text COLLATE "C" PRIMARY KEY,
    email             text          NOT NULL,
    access_token_hash bytea         NOT NULL CHECK (octet_length(access_token_hash) = 32),
    total_amount      numeric(12,2) NOT NULL CHECK (total_amount >= 0),
    currency          char(3)       NOT NULL,
    -- The payment the gateway issued; empty until one is attached. Crypto
    -- amounts keep the gateway's precision, hence unconstrained numeric.
    payment_provider  text          NOT NULL DEFAULT '',
    payment_id        text          NOT NULL DEFAULT '',
    pay_address       text          NOT NULL DEFAULT '',
    pay_amount        numeric       NOT NULL DEFAULT 0,
    pay_currency      text          NOT NULL DEFAULT '',
    payment_status    text          NOT NULL DEFAULT '',
    actually_paid     numeric       NOT NULL DEFAULT 0,
    status            text          NOT NULL CHECK (status IN ('pending_payment', 'paid', 'fulfilling',
                          'fulfilled', 'delivered', 'underpaid', 'expired', 'failed', 'revoked')),
    version           integer       NOT NULL CHECK (version >= 0),
    created_at        timestamptz   NOT NULL,
    updated_at        timestamptz   NOT NULL
);
-- List filters by status and pages newest first by id (UUIDv7, time-ordered);
-- the primary key serves the unfiltered case.
CREATE INDEX orders_status_id_idx ON orders (status, id DESC);

CREATE TABLE order_items (
    -- Item ids are global: the supplier sees one as our external order id.
    id                  text          PRIMARY KEY,
    order_id            text COLLATE "C" NOT NULL REFERENCES orders (id),
    position            integer       NOT NULL,
    sku                 text          NOT NULL,
    name                text          NOT NULL,
    source_kind         text          NOT NULL CHECK (source_kind IN ('supplier', 'own_stock')),
    supplier            text          NOT NULL,
    supplier_product_id text          NOT NULL,
    cost_amount         numeric(12,2),
    cost_currency       char(3),
    quantity            integer       NOT NULL CHECK (quantity BETWEEN 1 AND 10),
    unit_price          numeric(12,2) NOT NULL CHECK (unit_price >= 0),
    currency            char(3)       NOT NULL,
    status              text          NOT NULL CHECK (status IN ('pending', 'purchasing', 'purchased', 'sealed', 'failed')),
    failure_reason      text,
    failure_retryable   boolean,
    supplier_order_id   text          NOT NULL,
    -- [{slot, blob_ref, content_type}]: references to sealed keys, never keys.
    keys                jsonb         NOT NULL DEFAULT '[]',
    UNIQUE (order_id, position),
    CHECK ((cost_amount IS NULL) = (cost_currency IS NULL)),
    CHECK ((failure_reason IS NULL) = (failure_retryable IS NULL))
);

CREATE TABLE order_timeline (
    id       bigserial   PRIMARY KEY,
    order_id text COLLATE "C" NOT NULL REFERENCES orders (id),
    type     text        NOT NULL,
    status   text        NOT NULL,
    metadata jsonb       NOT NULL DEFAULT '{}',
    at       timestamptz NOT NULL
);
CREATE INDEX order_timeline_order_idx ON order_timeline (order_id, id);

CREATE TABLE delivery_links (
    id           text        PRIMARY KEY,
    -- Insertion order, to list an order's links oldest first.
    seq          bigint      GENERATED ALWAYS AS IDENTITY,
    order_id     text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    max_reveals  integer     NOT NULL CHECK (max_reveals >= 1),
    reveals_used integer     NOT NULL CHECK (reveals_used >= 0 AND reveals_used <= max_reveals),
    revoked_at   timestamptz
);
CREATE INDEX delivery_links_order_idx ON delivery_links (order_id, seq);

CREATE TABLE key_revelations (
    id         text        PRIMARY KEY,
    seq        bigint      GENERATED ALWAYS AS IDENTITY,
    order_id   text        NOT NULL,
    item_id    text        NOT NULL,
    link_id    text        NOT NULL,
    email      text        NOT NULL,
    ip         text        NOT NULL,
    user_agent text        NOT NULL,
    at         timestamptz NOT NULL,
    first      boolean     NOT NULL
);
CREATE INDEX key_revelations_order_idx ON key_revelations (order_id, seq);

CREATE TABLE payment_notifications (
    id          bigserial   PRIMARY KEY,
    provider    text        NOT NULL,
    payment_id  text        NOT NULL,
    status      text        NOT NULL,
    order_id    text        NOT NULL,
    body_sha256 bytea       NOT NULL CHECK (octet_length(body_sha256) = 32),
    -- The raw body exactly as signed, so it can be verified again.
    body        bytea       NOT NULL,
    received_at timestamptz NOT NULL,
    UNIQUE (provider, payment_id, status, body_sha256)
);

CREATE TABLE products (
    sku                 text COLLATE "C" PRIMARY KEY,
    name                text          NOT NULL,
    platform            text          NOT NULL,
    region              text          NOT NULL,
    price_amount        numeric(12,2) NOT NULL CHECK (price_amount >= 0),
    currency            char(3)       NOT NULL,
    source_kind         text          NOT NULL CHECK (source_kind IN ('supplier', 'own_stock')),
    supplier            text          NOT NULL,
    supplier_product_id text          NOT NULL,
    cost_amount         numeric(12,2),
    cost_currency       char(3),
    stock               integer       NOT NULL CHECK (stock >= 0),
    active              boolean       NOT NULL,
    updated_at          timestamptz,
    CHECK ((cost_amount IS NULL) = (cost_currency IS NULL))
);

-- Deleting a row is crypto-shredding: the order's ciphertext is lost for good.
CREATE TABLE data_keys (
    order_id   text COLLATE "C" PRIMARY KEY,
    ciphertext text        NOT NULL,
    version    integer     NOT NULL CHECK (version >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Rotation lists keys below a version, paging by order id.
CREATE INDEX data_keys_version_order_idx ON data_keys (version, order_id);

CREATE TABLE blobs (
    ref        text        PRIMARY KEY CHECK (ref <> ''),
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE blobs;
DROP TABLE data_keys;
DROP TABLE products;
DROP TABLE payment_notifications;
DROP TABLE key_revelations;
DROP TABLE delivery_links;
DROP TABLE order_timeline;
DROP TABLE order_items;
DROP TABLE orders;
