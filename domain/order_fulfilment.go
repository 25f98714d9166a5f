package domain

import (
	"fmt"
	"time"
)

// StartFulfilment moves a paid order to fulfilling. It reports false, with no
// error, when the order is already fulfilling (a redelivered message) or
// further along; ErrInvalidTransition from any other state.
func (o *Order) StartFulfilment(now time.Time) (bool, error) {
	switch o.status {
	case StatusFulfilling:
		return true, nil
	case StatusFulfilled, StatusDelivered, StatusRevoked, StatusFailed:
		return false, nil
	}
	if err := o.transition(StatusFulfilling, "fulfilment_started", nil, now); err != nil {
		return false, err
	}
	return true, nil
}

// BeginItemPurchase records that the supplier is about to be called for an
// item, before the call, so a crash afterwards is found by reconciliation.
func (o *Order) BeginItemPurchase(itemID string, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if it.status == ItemPurchasing {
		return nil
	}
	if err := it.beginPurchase(); err != nil {
		return err
	}
	o.touch(itemEvent("item_purchasing", o.status, it, now), now)
	return nil
}

// RecordItemPurchase stores the supplier's order id for an item.
func (o *Order) RecordItemPurchase(itemID, supplierOrderID string, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if it.status == ItemPurchased && it.supplierOrderID == supplierOrderID {
		return nil
	}
	if err := it.recordPurchase(supplierOrderID); err != nil {
		return err
	}
	o.touch(itemEvent("item_purchased", o.status, it, now, "supplier_order_id", supplierOrderID), now)
	return nil
}

// SealItem records the sealed keys of a purchased item.
func (o *Order) SealItem(itemID string, keys []SealedKey, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if err := it.seal(keys); err != nil {
		return err
	}
	o.touch(itemEvent("item_sealed", o.status, it, now), now)
	return nil
}

// FailItem marks an item failed. A permanent failure also fails the order.
func (o *Order) FailItem(itemID, reason string, retryable bool, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if err := it.fail(reason, retryable); err != nil {
		return err
	}
	o.touch(itemEvent("item_failed", o.status, it, now, "reason", reason, "retryable", fmt.Sprint(retryable)), now)
	if !retryable {
		return o.Fail(fmt.Sprintf("item %s: %s", it.sku, reason), now)
	}
	return nil
}

// CompleteFulfilment moves the order to fulfilled once every item is sealed;
// ErrInvalidTransition otherwise.
func (o *Order) CompleteFulfilment(now time.Time) error {
	for _, it := range o.items {
		if it.status != ItemSealed {
			return fmt.Errorf("%w: item %s is %s", ErrInvalidTransition, it.id, it.status)
		}
	}
	if err := o.transition(StatusFulfilled, "order_fulfilled", nil, now); err != nil {
		return err
	}
	o.emit(EventOrderFulfilled, now, "")
	return nil
}

// Fail marks a permanent fulfilment error: the order needs a refund.
func (o *Order) Fail(reason string, now time.Time) error {
	if err := o.transition(StatusFailed, "order_failed", map[string]string{"reason": reason}, now); err != nil {
		return err
	}
	o.emit(EventOrderFailed, now, reason)
	return nil
}

// RetryFulfilment restarts a failed order (or nudges one stuck in
// fulfilling): failed items go back to where they can resume.
func (o *Order) RetryFulfilment(now time.Time) error {
	if o.status != StatusFailed && o.status != StatusFulfilling && o.status != StatusPaid {
		return fmt.Errorf("%w: order %s is %s", ErrInvalidTransition, o.id, o.status)
	}
	for _, it := range o.items {
		it.resetForRetry()
	}
	if o.status == StatusFailed {
		if err := o.transition(StatusFulfilling, "fulfilment_retried", nil, now); err != nil {
			return err
		}
	} else {
		o.record("fulfilment_retried", nil, now)
	}
	o.emit(EventFulfilmentRetried, now, "")
	return nil
}

func (o *Order) fulfillingItem(itemID string) (*OrderItem, error) {
	if o.status != StatusFulfilling {
		return nil, fmt.Errorf("%w: order %s is %s, not fulfilling", ErrInvalidTransition, o.id, o.status)
	}
	return o.Item(itemID)
}
