-- Catalog sync runs, margins per product and per platform, prices an
-- admin pinned, and the indexes of the catalog's filters (platform, in
-- stock) and of its sku paging (the primary key).

-- +goose Up
ALTER TABLE products ADD COLUMN price_pinned boolean NOT NULL DEFAULT false;

-- Filters compare lower(platform); in_stock is active AND stock > 0.
CREATE INDEX products_platform_sku ON products (lower(platform), sku);
CREATE INDEX products_in_stock_sku ON products (sku) WHERE active AND stock > 0;
-- A full sync lists one supplier's products to find those that vanished.
CREATE INDEX products_supplier_sku ON products (supplier, sku);

CREATE TABLE catalog_sync_runs (
    id            text COLLATE "C" PRIMARY KEY,
    mode          text        NOT NULL CHECK (mode IN ('full', 'incremental')),
    updated_since timestamptz,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    status        text        NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    seen          integer     NOT NULL CHECK (seen >= 0),
    created       integer     NOT NULL CHECK (created >= 0),
    changed       integer     NOT NULL CHECK (changed >= 0),
    deactivated   integer     NOT NULL CHECK (deactivated >= 0),
    error_count   integer     NOT NULL CHECK (error_count >= 0),
    errors        text[]      NOT NULL
);
CREATE INDEX catalog_sync_runs_started ON catalog_sync_runs (started_at DESC, id DESC);

-- key is a product's sku or a platform in lower case.
CREATE TABLE pricing_rules (
    scope  text          NOT NULL CHECK (scope IN ('product', 'platform')),
    key    text          NOT NULL,
    margin numeric(8,4)  NOT NULL CHECK (margin >= 0),
    PRIMARY KEY (scope, key)
);

-- +goose Down
DROP TABLE pricing_rules;
DROP TABLE catalog_sync_runs;
DROP INDEX products_supplier_sku;
DROP INDEX products_in_stock_sku;
DROP INDEX products_platform_sku;
ALTER TABLE products DROP COLUMN price_pinned;
