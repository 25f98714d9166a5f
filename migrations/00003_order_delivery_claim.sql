-- The delivery claim (domain.DeliveryClaim) becomes two columns of orders,
-- saved with the order, instead of being read back from the last
-- delivery_claimed / delivery_released entry of its timeline. The timeline
-- keeps recording both, for people.

-- +goose Up
ALTER TABLE orders
    ADD COLUMN delivery_claim      text        NOT NULL DEFAULT '',
    ADD COLUMN delivery_claimed_at timestamptz,
    ADD CONSTRAINT orders_delivery_claim_check CHECK ((delivery_claim = '') = (delivery_claimed_at IS NULL));

-- Carry over the claims in force: where an order's latest claim entry is a
-- claim (not a release), that claim holds, from when it was taken. A claim
-- whose lease has run out is carried too; the next worker takes it over
-- exactly as before the upgrade.
UPDATE orders o
SET delivery_claim = last.metadata->>'claim', delivery_claimed_at = last.at
FROM (
    SELECT DISTINCT ON (order_id) order_id, type, metadata, at
    FROM order_timeline
    WHERE type IN ('delivery_claimed', 'delivery_released')
    ORDER BY order_id, id DESC
) last
WHERE last.order_id = o.id
  AND last.type = 'delivery_claimed'
  AND coalesce(last.metadata->>'claim', '') <> '';

-- +goose Down
-- The timeline still holds every claim and release, which is where the
-- code before this migration reads the claim from.
ALTER TABLE orders
    DROP CONSTRAINT orders_delivery_claim_check,
    DROP COLUMN delivery_claimed_at,
    DROP COLUMN delivery_claim;
