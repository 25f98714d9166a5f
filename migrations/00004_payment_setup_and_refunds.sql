-- Orders can now be stored before their payment exists (the gateway was
-- down: awaiting_payment_setup) and end refunded; a payment may carry the
-- memo or destination tag some coins need beside the address.

-- +goose Up
ALTER TABLE orders
    DROP CONSTRAINT orders_status_check,
    ADD CONSTRAINT orders_status_check CHECK (status IN ('awaiting_payment_setup', 'pending_payment', 'paid',
        'fulfilling', 'fulfilled', 'delivered', 'underpaid', 'expired', 'failed', 'revoked', 'refunded')),
    ADD COLUMN payin_extra_id text NOT NULL DEFAULT '';

-- +goose Down
-- The code before this migration knows neither state: an order still
-- waiting for its payment could never get one there, and a refunded order
-- was never paid, so both end as expired. Their timelines keep what
-- happened.
UPDATE orders SET status = 'expired' WHERE status IN ('awaiting_payment_setup', 'refunded');
ALTER TABLE orders
    DROP COLUMN payin_extra_id,
    DROP CONSTRAINT orders_status_check,
    ADD CONSTRAINT orders_status_check CHECK (status IN ('pending_payment', 'paid', 'fulfilling',
        'fulfilled', 'delivered', 'underpaid', 'expired', 'failed', 'revoked'));
