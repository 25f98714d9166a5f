package domain

import (
	"fmt"
	"strconv"
	"time"
)

// KeyOutcome is what a refund did with one key of the order.
type KeyOutcome struct{ name string }

// The outcomes of a refund for a key.
var (
	// KeyRestocked: an own-stock key never revealed went back into the
	// stock, sealed under the product's stock key.
	KeyRestocked = KeyOutcome{"restocked"}
	// KeyQuarantined: a key the customer saw (or a bad key) is shredded
	// with the order, never sold again.
	KeyQuarantined = KeyOutcome{"quarantined"}
	// KeyReturned: the supplier took the unrevealed key back.
	KeyReturned = KeyOutcome{"returned"}
	// KeyReturnRefused: the supplier was asked and refused.
	KeyReturnRefused = KeyOutcome{"return_refused"}
	// KeyNotReturnable: the supplier takes no keys back (or no longer:
	// too late, a pre-order, a wholesale order).
	KeyNotReturnable = KeyOutcome{"not_returnable"}
)

// KeyOutcomes lists every key outcome of a refund.
var KeyOutcomes = []KeyOutcome{KeyRestocked, KeyQuarantined, KeyReturned, KeyReturnRefused, KeyNotReturnable}

// String returns the outcome's stored name.
func (k KeyOutcome) String() string { return k.name }

// RefundedKey is what a refund did with the key at Slot of an item.
type RefundedKey struct {
	ItemID  string
	Slot    int
	Outcome KeyOutcome
	// Detail says why, in a few words: the supplier's refusal, "revealed",
	// "bad key"; free text from keyward or the supplier, never the key.
	Detail string
}

// RefundCanStart reports whether Refund would accept the order now:
// it holds or held keys for a paid order (fulfilled, delivered, failed or
// held for review). ErrInvalidTransition otherwise.
func (o *Order) RefundCanStart() error {
	if !o.status.CanTransitionTo(StatusRefunded) || o.status == StatusPendingPayment || o.status == StatusUnderpaid {
		return fmt.Errorf("%w: order %s is %s: only a paid order that is fulfilled, delivered, failed or held for review is refunded here", ErrInvalidTransition, o.id, o.status)
	}
	return nil
}

// Refund ends a paid order as refunded: the money went back outside
// keyward (reference records how). Each of keys, the outcome of one sealed
// key, is recorded as a key_outcome entry; the items are shredded (their
// keys are restocked, returned or destroyed with the order's data key). It
// collects EventOrderRefunded (reason: the refund's reason) and one
// EventKeyReturned per supplier order in returned.
//
// It returns ErrInvalidTransition unless RefundCanStart, ErrItemNotFound for
// an outcome of another order's item, and ErrInvalidOrder for an outcome
// without one or for a key of the order with no outcome.
func (o *Order) Refund(reason, reference string, keys []RefundedKey, returned []string, now time.Time) error {
	if err := o.RefundCanStart(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, k := range keys {
		it, err := o.Item(k.ItemID)
		if err != nil {
			return err
		}
		if k.Outcome == (KeyOutcome{}) {
			return fmt.Errorf("%w: key %s/%d has no refund outcome", ErrInvalidOrder, it.id, k.Slot)
		}
		seen[it.id+"/"+strconv.Itoa(k.Slot)] = true
	}
	for _, it := range o.items {
		for _, k := range it.keys {
			if !seen[it.id+"/"+strconv.Itoa(k.Slot)] {
				return fmt.Errorf("%w: key %s/%d has no refund outcome", ErrInvalidOrder, it.id, k.Slot)
			}
		}
	}
	if err := o.transition(StatusRefunded, EventKindOrderRefunded, map[string]string{"reason": reason, "reference": reference}, now); err != nil {
		return err
	}
	for _, k := range keys {
		it, _ := o.Item(k.ItemID)
		o.record(EventKindKeyOutcome, map[string]string{
			"item_id": it.id, "sku": it.sku, "slot": strconv.Itoa(k.Slot), "outcome": k.Outcome.String(), "detail": k.Detail,
			"supplier_order_id": it.supplierOrderID,
		}, now)
	}
	for _, it := range o.items {
		it.shred()
	}
	o.emit(EventOrderRefunded, now, reason)
	for _, ref := range returned {
		o.emit(EventKeyReturned, now, ref)
	}
	return nil
}
