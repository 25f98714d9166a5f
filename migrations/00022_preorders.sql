-- Pre-orders: a supplier product sold before its release is listed with
-- its release day, and an order item bought as a pre-order waits as
-- 'awaiting_release' with that day until its keys come.

-- +goose Up
ALTER TABLE products
    ADD COLUMN preorder     boolean NOT NULL DEFAULT false,
    ADD COLUMN release_date date;

ALTER TABLE order_items ADD COLUMN release_date date;
ALTER TABLE order_items DROP CONSTRAINT order_items_status_check;
ALTER TABLE order_items ADD CONSTRAINT order_items_status_check
    CHECK (status IN ('pending', 'purchasing', 'purchased', 'awaiting_release', 'sealed', 'failed'));

-- +goose Down
-- The code before knows neither the status nor the timeline kind: an item
-- waiting for its release is a purchased item waiting for its keys again,
-- and its timeline entry the purchase it records.
UPDATE order_items SET status = 'purchased' WHERE status = 'awaiting_release';
UPDATE order_timeline SET type = 'item_purchased' WHERE type = 'item_awaiting_release';
ALTER TABLE order_items DROP CONSTRAINT order_items_status_check;
ALTER TABLE order_items ADD CONSTRAINT order_items_status_check
    CHECK (status IN ('pending', 'purchasing', 'purchased', 'sealed', 'failed'));
ALTER TABLE order_items DROP COLUMN release_date;
ALTER TABLE products DROP COLUMN release_date, DROP COLUMN preorder;
