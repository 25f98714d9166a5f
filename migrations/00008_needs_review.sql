-- An order fulfilment cannot finish without a person is held as
-- needs_review, with the reason in its timeline.

-- +goose Up
ALTER TABLE orders
    DROP CONSTRAINT orders_status_check,
    ADD CONSTRAINT orders_status_check CHECK (status IN ('awaiting_payment_setup', 'pending_payment', 'paid',
        'fulfilling', 'fulfilled', 'delivered', 'underpaid', 'expired', 'failed', 'revoked', 'refunded', 'needs_review'));

-- +goose Down
-- The code before this migration knows no held state: a held order goes
-- back to failed, which an admin retries the same way.
UPDATE orders SET status = 'failed' WHERE status = 'needs_review';
ALTER TABLE orders
    DROP CONSTRAINT orders_status_check,
    ADD CONSTRAINT orders_status_check CHECK (status IN ('awaiting_payment_setup', 'pending_payment', 'paid',
        'fulfilling', 'fulfilled', 'delivered', 'underpaid', 'expired', 'failed', 'revoked', 'refunded'));
