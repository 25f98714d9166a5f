package domain

import (
	"fmt"
	"strings"
	"time"
)

// StartFulfilment moves a paid order to fulfilling and reports whether the
// caller should go on fulfilling it. From paid it records
// fulfilment_started and reports true; from fulfilling (a redelivered
// message, or a resume after a crash) it changes nothing and reports true;
// from fulfilled, delivered, revoked or failed it changes nothing and
// reports false, and so from needs_review: a held order waits for a
// person (RetryFulfilment), not for a redelivered order.paid. It returns
// false and ErrInvalidTransition from pending_payment, underpaid or
// expired (the order is not paid).
func (o *Order) StartFulfilment(now time.Time) (bool, error) {
	switch o.status {
	case StatusFulfilling:
		return true, nil
	case StatusFulfilled, StatusDelivered, StatusRevoked, StatusFailed, StatusNeedsReview:
		return false, nil
	}
	if err := o.transition(StatusFulfilling, EventKindFulfilmentStarted, nil, now); err != nil {
		return false, err
	}
	return true, nil
}

// BeginItemPurchase records that the supplier is about to be called for an
// item, before the call, so a crash afterwards is found by reconciliation.
// An item already purchasing is left as it is (a resume). It returns
// ErrInvalidTransition unless the order is fulfilling and the item pending,
// purchasing or failed retryably; ErrItemNotFound for an unknown item.
func (o *Order) BeginItemPurchase(itemID string, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	return o.BeginItemPurchaseFrom(itemID, it.Supplier(), now)
}

// BeginItemPurchaseFrom is BeginItemPurchase at the named supplier, which
// the item records (BoughtFrom). It returns ErrInvalidTransition as well
// for an item whose purchase was begun with another supplier, unless it
// went back to pending with no supplier order.
func (o *Order) BeginItemPurchaseFrom(itemID, supplier string, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if it.status == ItemPurchasing && it.boughtFrom == supplier {
		return nil
	}
	if err := it.beginPurchase(supplier); err != nil {
		return err
	}
	var extra []string
	if supplier != "" {
		extra = []string{"supplier", supplier}
	}
	o.touch(itemEvent(EventKindItemPurchasing, o.status, it, now, extra...), now)
	return nil
}

// RecordItemPurchase stores the supplier's order id for an item; recording
// the same id again changes nothing. It returns ErrInvalidTransition unless
// the order is fulfilling and the item purchasing, or already purchased
// under the same id; ErrInvalidOrder for an empty supplierOrderID;
// ErrItemNotFound for an unknown item.
func (o *Order) RecordItemPurchase(itemID, supplierOrderID string, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if (it.status == ItemPurchased || it.status == ItemAwaitingRelease) && it.supplierOrderID == supplierOrderID {
		return nil
	}
	if err := it.recordPurchase(supplierOrderID); err != nil {
		return err
	}
	o.touch(itemEvent(EventKindItemPurchased, o.status, it, now, "supplier_order_id", supplierOrderID), now)
	return nil
}

// SealItem records the sealed keys of a purchased item. It returns
// ErrInvalidTransition unless the order is fulfilling and the item
// purchased; ErrInvalidOrder unless there is one key per unit;
// ErrItemNotFound for an unknown item.
func (o *Order) SealItem(itemID string, keys []SealedKey, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if err := it.seal(keys); err != nil {
		return err
	}
	o.touch(itemEvent(EventKindItemSealed, o.status, it, now), now)
	return nil
}

// FailItem marks an item failed. A permanent (not retryable) failure also
// fails the order. It returns ErrInvalidTransition unless the order is
// fulfilling and the item not yet sealed; ErrItemNotFound for an unknown
// item.
func (o *Order) FailItem(itemID, reason string, retryable bool, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if err := it.fail(reason, retryable); err != nil {
		return err
	}
	o.touch(itemEvent(EventKindItemFailed, o.status, it, now, "reason", reason, "retryable", fmt.Sprint(retryable)), now)
	if !retryable {
		return o.Fail(fmt.Sprintf("item %s: %s", it.sku, reason), now)
	}
	return nil
}

// CompleteFulfilment moves the order to fulfilled once every item is sealed
// and collects EventOrderFulfilled. It returns ErrInvalidTransition when an
// item is not sealed or the order is not fulfilling.
func (o *Order) CompleteFulfilment(now time.Time) error {
	for _, it := range o.items {
		if it.status != ItemSealed {
			return fmt.Errorf("%w: item %s is %s", ErrInvalidTransition, it.id, it.status)
		}
	}
	if err := o.transition(StatusFulfilled, EventKindOrderFulfilled, nil, now); err != nil {
		return err
	}
	o.emit(EventOrderFulfilled, now, "")
	return nil
}

// Fail marks a permanent fulfilment error (the order needs a refund) and
// collects EventOrderFailed. It returns ErrInvalidTransition unless the
// order is paid or fulfilling.
func (o *Order) Fail(reason string, now time.Time) error {
	if err := o.transition(StatusFailed, EventKindOrderFailed, map[string]string{"reason": reason}, now); err != nil {
		return err
	}
	o.emit(EventOrderFailed, now, reason)
	return nil
}

// RetryFulfilment restarts a failed order (or nudges one stuck in paid or
// fulfilling): failed items go back to where they can resume, and it
// collects EventFulfilmentRetried. It returns ErrInvalidTransition unless
// the order is failed, held for review, paid or fulfilling.
func (o *Order) RetryFulfilment(now time.Time) error {
	if o.status != StatusFailed && o.status != StatusFulfilling && o.status != StatusPaid && o.status != StatusNeedsReview {
		return fmt.Errorf("%w: order %s is %s", ErrInvalidTransition, o.id, o.status)
	}
	for _, it := range o.items {
		it.resetForRetry()
	}
	if o.status == StatusFailed || o.status == StatusNeedsReview {
		if err := o.transition(StatusFulfilling, EventKindFulfilmentRetried, nil, now); err != nil {
			return err
		}
	} else {
		o.record(EventKindFulfilmentRetried, nil, now)
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

// HoldForReview stops a paid or fulfilling order for a person, with the
// reason an admin and the timeline show (the items keep their state, so a
// retry resumes where it stopped). It emits EventOrderNeedsReview; holding an
// order already held records nothing. It returns ErrInvalidTransition from
// any other state and ErrInvalidOrder for an empty reason.
func (o *Order) HoldForReview(reason string, now time.Time) error {
	if o.status == StatusNeedsReview {
		return nil
	}
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("%w: a hold for review needs a reason", ErrInvalidOrder)
	}
	if o.status == StatusExpired {
		// Only a late payment holds an expired order (ApplyPayment).
		return fmt.Errorf("%w: order %s is expired", ErrInvalidTransition, o.id)
	}
	if err := o.transition(StatusNeedsReview, EventKindHeldForReview, map[string]string{"reason": reason}, now); err != nil {
		return err
	}
	o.emit(EventOrderNeedsReview, now, reason)
	return nil
}

// ReviewReason returns why the order was last held for review, "" when it
// never was.
func (o *Order) ReviewReason() string {
	for i := len(o.timeline) - 1; i >= 0; i-- {
		if e := o.timeline[i]; e.Kind() == EventKindHeldForReview {
			return e.Metadata()["reason"]
		}
	}
	return ""
}
