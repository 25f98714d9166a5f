package domain

import (
	"fmt"
	"strconv"
	"time"
)

// ReturnRequest is what an order's timeline says of the return of one
// supplier order's keys: a refund records that it asks the supplier before
// it asks (return_requested), and the supplier's answer as soon as it has
// it (return_answered), each in a unit of work of its own, so a refund
// that fails afterwards and is tried again knows the supplier was asked.
type ReturnRequest struct {
	SupplierOrderID string
	// Requested: a refund asked, or was about to ask, the supplier, at
	// RequestedAt.
	Requested   bool
	RequestedAt time.Time
	// Answered: the supplier's answer is recorded: Returned keys taken
	// back, Kept not, or Refusal (not empty) when it refused.
	Answered       bool
	Returned, Kept int
	Refusal        string
}

// ReturnRequest returns what the timeline records of the return of the
// keys of supplierOrderID.
func (o *Order) ReturnRequest(supplierOrderID string) ReturnRequest {
	r := ReturnRequest{SupplierOrderID: supplierOrderID}
	if supplierOrderID == "" {
		return r
	}
	for _, e := range o.timeline {
		m := e.metadata
		if m["supplier_order_id"] != supplierOrderID {
			continue
		}
		switch e.kind {
		case EventKindReturnRequested:
			r.Requested, r.RequestedAt = true, e.at
		case EventKindReturnAnswered:
			r.Answered = true
			r.Returned, _ = strconv.Atoi(m["returned"])
			r.Kept, _ = strconv.Atoi(m["kept"])
			r.Refusal = m["refusal"]
		}
	}
	return r
}

// RecordReturnRequested records, before the supplier is asked, that a
// refund asks the supplier the item was bought from to take back the
// keys of the item's supplier order: a return_requested entry. A supplier
// order is asked once: ErrConflict when the request is recorded already.
// ErrInvalidTransition unless RefundCanStart, ErrItemNotFound for another
// order's item, ErrInvalidOrder for an item with no supplier order.
func (o *Order) RecordReturnRequested(itemID string, now time.Time) error {
	if err := o.RefundCanStart(); err != nil {
		return err
	}
	it, err := o.Item(itemID)
	if err != nil {
		return err
	}
	if it.supplierOrderID == "" {
		return fmt.Errorf("%w: item %s has no supplier order to return", ErrInvalidOrder, it.id)
	}
	if o.ReturnRequest(it.supplierOrderID).Requested {
		return fmt.Errorf("%w: the return of supplier order %s was requested already", ErrConflict, it.supplierOrderID)
	}
	o.record(EventKindReturnRequested, map[string]string{
		"item_id": it.id, "supplier": it.Supplier(), "supplier_order_id": it.supplierOrderID,
	}, now)
	return nil
}

// RecordReturnAnswer records the supplier's answer to the requested
// return of supplierOrderID's keys: returned keys taken back and kept not,
// or refusal (not empty) when it refused. A return_answered entry.
// ErrInvalidTransition unless RefundCanStart and the request is recorded,
// ErrConflict when an answer is recorded already.
func (o *Order) RecordReturnAnswer(supplierOrderID string, returned, kept int, refusal string, now time.Time) error {
	if err := o.RefundCanStart(); err != nil {
		return err
	}
	r := o.ReturnRequest(supplierOrderID)
	if !r.Requested {
		return fmt.Errorf("%w: no return of supplier order %q was requested", ErrInvalidTransition, supplierOrderID)
	}
	if r.Answered {
		return fmt.Errorf("%w: the answer to the return of supplier order %s is recorded already", ErrConflict, supplierOrderID)
	}
	if returned < 0 || kept < 0 {
		return fmt.Errorf("%w: negative key counts in a return answer", ErrInvalidOrder)
	}
	o.record(EventKindReturnAnswered, map[string]string{
		"supplier_order_id": supplierOrderID, "returned": strconv.Itoa(returned), "kept": strconv.Itoa(kept), "refusal": refusal,
	}, now)
	return nil
}
