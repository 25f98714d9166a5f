-- An item records the supplier its purchase was begun with: with several
-- suppliers (KEYWARD_SUPPLIERS), its supplier order, keys, webhooks and
-- crash recovery all go to that one, whatever its product's source says
-- since. '' before a purchase was begun. Items that reached a supplier
-- before this column existed were bought from their product's source.

-- +goose Up
ALTER TABLE order_items ADD COLUMN bought_from text NOT NULL DEFAULT '';
UPDATE order_items SET bought_from = supplier
    WHERE source_kind = 'supplier' AND (supplier_order_id <> '' OR status IN ('purchasing', 'failed'));

-- +goose Down
ALTER TABLE order_items DROP COLUMN bought_from;
