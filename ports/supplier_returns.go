package ports

import (
	"context"
	"errors"
)

// ErrReturnRefused: the supplier will not take the keys back (Kinguin's
// NoKeysToReturn: claimed, too late, a pre-order, wholesale). Asking again
// gets the same answer: it is recorded, never retried.
var ErrReturnRefused = errors.New("supplier refused to take the keys back")

// KeyReturn is the supplier's answer to a return.
type KeyReturn struct {
	// Returned is how many of the order's keys the supplier took back
	// (and refunds); Kept how many it did not.
	Returned int
	Kept     int
}

// SupplierReturns is a supplier that takes back keys of an order that were
// never shown to anyone. A supplier that has no such call does not
// implement it.
type SupplierReturns interface {
	// ReturnKeys asks the supplier to take back the keys of its order
	// supplierOrderID, once per order. It returns ErrReturnRefused (with
	// the supplier's reason) when the supplier refuses, and
	// ErrSupplierTemporary when it could not be asked.
	ReturnKeys(ctx context.Context, supplierOrderID string) (KeyReturn, error)
}
