package application

import (
	"context"

	"github.com/keyward/keyward/domain"
)

// failItem records a permanent supplier refusal on the item (which fails
// the order); the reason is the supplier's, for the operator.
func (f *fulfilment) failItem(ctx context.Context, it *domain.OrderItem, cause error) error {
	f.log.WarnContext(ctx, "item failed permanently", "order_id", f.orderID, "item_id", it.ID(), "err", cause)
	_, err := f.update(ctx, func(o *domain.Order) error {
		return o.FailItem(it.ID(), cause.Error(), false, f.clock.Now())
	})
	return err
}

// holdForReview stops the order for a person, with the reason.
func (f *fulfilment) holdForReview(ctx context.Context, it *domain.OrderItem, reason string) error {
	f.log.WarnContext(ctx, "order held for review", "order_id", f.orderID, "item_id", it.ID(), "reason", reason)
	_, err := f.update(ctx, func(o *domain.Order) error { return o.HoldForReview(reason, f.clock.Now()) })
	return err
}
