package ports

import (
	"context"
	"errors"
)

// ErrReturnRefused: the supplier will not take the keys back (Kinguin's
// NoKeysToReturn: claimed, too late, a pre-order, wholesale). Asking again
// gets the same answer: it is recorded, never retried.
var ErrReturnRefused = errors.New("supplier refused to take the keys back")

// ErrNothingToReturn: the supplier holds no keys of the order to take back
// (Kinguin's NoKeysToReturn): none were delivered, or they were taken back
// already. It comes wrapped with ErrReturnRefused. To a refund that
// recorded an earlier request for the order, it means that request was
// carried out: the keys were returned.
var ErrNothingToReturn = errors.New("supplier has no keys of the order to take back")

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
	// the supplier's reason) when the supplier refuses, wrapping
	// ErrNothingToReturn too when the refusal is that no keys are left to
	// take back, and ErrSupplierTemporary when it could not be asked.
	ReturnKeys(ctx context.Context, supplierOrderID string) (KeyReturn, error)
}
