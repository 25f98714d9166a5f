package ports

import (
	"context"
	"errors"
	"time"
)

var (
	// ErrPurchaseCanceled: the supplier cancelled or refunded the purchase
	// and no keys will come. It is the one error of Keys after which an
	// item may be failed (and the order refunded); adapters wrap it
	// together with ErrSupplierPermanent.
	ErrPurchaseCanceled = errors.New("supplier cancelled the purchase")
	// ErrPurchaseUnverifiable: the supplier cannot tell whether a purchase
	// begun for an external id exists (it was begun longer ago than the
	// supplier's order history reaches). Buying again could buy twice:
	// a person must check.
	ErrPurchaseUnverifiable = errors.New("supplier cannot tell whether the purchase exists")
)

type purchaseBegunKey struct{}

// WithPurchaseBegun tells the supplier, through ctx, when the purchase of
// the item it is asked about was first begun, so that FindOrder and
// PlaceOrder search the supplier's order history around that time. The
// context carries it through any decorator of the Supplier port.
func WithPurchaseBegun(ctx context.Context, begun time.Time) context.Context {
	if begun.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, purchaseBegunKey{}, begun)
}

// PurchaseBegun returns the time WithPurchaseBegun put in ctx; false when
// none is known.
func PurchaseBegun(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(purchaseBegunKey{}).(time.Time)
	return t, ok && !t.IsZero()
}
