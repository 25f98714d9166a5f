package domain

import (
	"fmt"
	"time"
)

// ReplacementPurchase is what an order's timeline says of the purchase of
// a claim's replacement from a supplier: requested before the supplier is
// asked (replacement_requested), bought once the supplier order is known
// (replacement_bought), each in a unit of work of its own, so the money
// spent is on record even when the approval fails afterwards.
type ReplacementPurchase struct {
	ClaimID, Supplier string
	Requested         bool
	// SupplierOrderID is the supplier's order, once bought.
	SupplierOrderID string
}

// Bought reports whether the supplier order of the purchase is known.
func (p ReplacementPurchase) Bought() bool { return p.SupplierOrderID != "" }

// ReplacementPurchase returns what the timeline records of the purchase
// of claimID's replacement.
func (o *Order) ReplacementPurchase(claimID string) ReplacementPurchase {
	p := ReplacementPurchase{ClaimID: claimID}
	if claimID == "" {
		return p
	}
	for _, e := range o.timeline {
		if e.metadata["claim_id"] != claimID {
			continue
		}
		switch e.kind {
		case EventKindReplacementRequested:
			p.Requested, p.Supplier = true, e.metadata["supplier"]
		case EventKindReplacementBought:
			p.Requested, p.Supplier, p.SupplierOrderID = true, e.metadata["supplier"], e.metadata["supplier_order_id"]
		}
	}
	return p
}

// RecordReplacementRequested records, before the supplier is asked, that
// claimID's replacement of itemID's keys is bought from supplier. Once per
// claim: a second call records nothing. ErrInvalidTransition unless the
// order is delivered, ErrItemNotFound for another order's item.
func (o *Order) RecordReplacementRequested(claimID, itemID, supplier string, now time.Time) error {
	it, err := o.replacementItem(itemID)
	if err != nil || o.ReplacementPurchase(claimID).Requested {
		return err
	}
	o.record(EventKindReplacementRequested, map[string]string{"claim_id": claimID, "item_id": it.id, "supplier": supplier}, now)
	return nil
}

// RecordReplacementBought records the supplier order that bought claimID's
// replacement. Once per claim: the same order again records nothing,
// another is ErrConflict. Otherwise the errors are
// RecordReplacementRequested's, and ErrInvalidOrder for an empty order id.
func (o *Order) RecordReplacementBought(claimID, itemID, supplier, supplierOrderID string, now time.Time) error {
	it, err := o.replacementItem(itemID)
	if err != nil {
		return err
	}
	if supplierOrderID == "" {
		return fmt.Errorf("%w: a replacement bought without a supplier order", ErrInvalidOrder)
	}
	switch p := o.ReplacementPurchase(claimID); {
	case p.SupplierOrderID == supplierOrderID:
		return nil
	case p.Bought():
		return fmt.Errorf("%w: claim %s's replacement was bought as %s order %s", ErrConflict, claimID, p.Supplier, p.SupplierOrderID)
	}
	o.record(EventKindReplacementBought, map[string]string{"claim_id": claimID, "item_id": it.id, "supplier": supplier, "supplier_order_id": supplierOrderID}, now)
	return nil
}

func (o *Order) replacementItem(itemID string) (*OrderItem, error) {
	if o.status != StatusDelivered {
		return nil, fmt.Errorf("%w: order %s is %s, not delivered", ErrInvalidTransition, o.id, o.status)
	}
	return o.Item(itemID)
}
