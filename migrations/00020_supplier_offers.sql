-- Each supplier's offers, kept apart from keyward's products, and the
-- offers an admin linked to each product (a product is bought from the
-- cheapest linked offer that can sell). Every product bought from a
-- supplier until now keeps its own source as its one linked offer.
-- Catalog sync runs say which supplier they read ('' before this).

-- +goose Up
CREATE TABLE supplier_offers (
    supplier            text COLLATE "C" NOT NULL,
    supplier_product_id text COLLATE "C" NOT NULL,
    name                text          NOT NULL,
    cost_amount         numeric(12,2) NOT NULL CHECK (cost_amount >= 0),
    cost_currency       char(3)       NOT NULL,
    stock               integer       NOT NULL CHECK (stock >= 0),
    region              text          NOT NULL,
    platform            text          NOT NULL,
    preorder            boolean       NOT NULL DEFAULT false,
    updated_at          timestamptz,
    PRIMARY KEY (supplier, supplier_product_id)
);

CREATE TABLE product_offers (
    sku                 text COLLATE "C" NOT NULL REFERENCES products (sku) ON DELETE CASCADE,
    supplier            text COLLATE "C" NOT NULL,
    supplier_product_id text COLLATE "C" NOT NULL,
    PRIMARY KEY (sku, supplier, supplier_product_id),
    FOREIGN KEY (supplier, supplier_product_id) REFERENCES supplier_offers (supplier, supplier_product_id)
);
CREATE INDEX product_offers_offer ON product_offers (supplier, supplier_product_id);

INSERT INTO supplier_offers (supplier, supplier_product_id, name, cost_amount, cost_currency, stock, region, platform, updated_at)
    SELECT DISTINCT ON (supplier, supplier_product_id) supplier, supplier_product_id, name,
        coalesce(cost_amount, 0), coalesce(cost_currency, currency), stock, region, platform, updated_at
    FROM products
    WHERE source_kind = 'supplier' AND supplier <> '' AND supplier_product_id <> ''
    ORDER BY supplier, supplier_product_id, updated_at DESC NULLS LAST, sku;
INSERT INTO product_offers (sku, supplier, supplier_product_id)
    SELECT sku, supplier, supplier_product_id FROM products
    WHERE source_kind = 'supplier' AND supplier <> '' AND supplier_product_id <> '';

ALTER TABLE catalog_sync_runs ADD COLUMN supplier text NOT NULL DEFAULT '';
CREATE INDEX catalog_sync_runs_supplier_started ON catalog_sync_runs (supplier, started_at DESC, id DESC);

-- +goose Down
DROP INDEX catalog_sync_runs_supplier_started;
ALTER TABLE catalog_sync_runs DROP COLUMN supplier;
DROP TABLE product_offers;
DROP TABLE supplier_offers;
