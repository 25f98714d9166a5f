package domain

import (
	"fmt"
	"time"
)

// DeliveryClaim is a worker's hold on delivering an order: the claim's id
// and when it was taken. The zero value is no claim. It is stored with the
// order; the timeline records each claim and release as well, for people.
type DeliveryClaim struct {
	ID        string
	ClaimedAt time.Time
}

// held reports whether the claim is in force at now for a lease.
func (c DeliveryClaim) held(now time.Time, lease time.Duration) bool {
	return c.ID != "" && now.Sub(c.ClaimedAt) < lease
}

// ClaimDelivery lets one worker at a time deliver a fulfilled order: it
// records claimID and reports true unless another claim younger than lease
// is held. A claim older than lease is taken over (its worker died); a
// released claim is free at once; the holder may claim again, which renews
// its lease. It reports false, changing nothing, for an empty claimID or
// an order that is not fulfilled.
func (o *Order) ClaimDelivery(claimID string, now time.Time, lease time.Duration) bool {
	if o.status != StatusFulfilled || claimID == "" {
		return false
	}
	if c := o.deliveryClaim; c.ID != claimID && c.held(now, lease) {
		return false
	}
	o.deliveryClaim = DeliveryClaim{ID: claimID, ClaimedAt: now}
	o.record(EventKindDeliveryClaimed, map[string]string{"claim": claimID}, now)
	return true
}

// HoldsDelivery reports whether the order is fulfilled and claimID is its
// current claim, younger than lease: a worker checks it before each step
// that cannot be undone. It reports false for an empty claimID.
func (o *Order) HoldsDelivery(claimID string, now time.Time, lease time.Duration) bool {
	return o.status == StatusFulfilled && claimID != "" && o.deliveryClaim.ID == claimID && o.deliveryClaim.held(now, lease)
}

// DeliveryClaimLapsed reports whether the order is fulfilled and its
// delivery claim has run out of its lease: the worker that took it stopped
// mid-way (died after the seal that completed the order, say), and the
// redelivered message that finds the claim still held has gone.
func (o *Order) DeliveryClaimLapsed(now time.Time, lease time.Duration) bool {
	return o.status == StatusFulfilled && o.deliveryClaim.ID != "" && !o.deliveryClaim.held(now, lease)
}

// ReleaseDelivery gives up claimID after a failure, so the next attempt
// need not wait for the lease; releasing a claim not held does nothing.
func (o *Order) ReleaseDelivery(claimID string, now time.Time) {
	if claimID != "" && o.deliveryClaim.ID == claimID {
		o.deliveryClaim = DeliveryClaim{}
		o.record(EventKindDeliveryReleased, map[string]string{"claim": claimID}, now)
	}
}

// MarkDelivered records that the delivery link linkID was sent: the order
// moves to delivered and collects EventOrderDelivered. It returns
// ErrInvalidTransition unless the order is fulfilled.
func (o *Order) MarkDelivered(linkID string, now time.Time) error {
	if err := o.transition(StatusDelivered, EventKindDeliveryLinkSent, map[string]string{"link_id": linkID}, now); err != nil {
		return err
	}
	o.emit(EventOrderDelivered, now, "")
	return nil
}

// DeliveredWith reports whether the order is delivered and the delivery
// that marked it (MarkDelivered) sent linkID: a retried mark delivered
// whose earlier commit went through unseen finds its own work done.
func (o *Order) DeliveredWith(linkID string) bool {
	if o.status != StatusDelivered || linkID == "" {
		return false
	}
	for i := len(o.timeline) - 1; i >= 0; i-- {
		if ev := o.timeline[i]; ev.kind == EventKindDeliveryLinkSent {
			return ev.metadata["link_id"] == linkID
		}
	}
	return false
}

// RecordLinkResent adds a timeline entry for a re-sent delivery link. It
// returns ErrInvalidTransition unless the order is delivered.
func (o *Order) RecordLinkResent(linkID string, now time.Time) error {
	if o.status != StatusDelivered {
		return fmt.Errorf("%w: order %s is %s, not delivered", ErrInvalidTransition, o.id, o.status)
	}
	o.record(EventKindDeliveryLinkResent, map[string]string{"link_id": linkID}, now)
	return nil
}

// Revoke destroys access to the keys: the caller shreds the data key and
// ciphertext; the order forgets its sealed key references and collects
// EventOrderRevoked. It returns ErrInvalidTransition unless the order is
// fulfilled, delivered or failed.
func (o *Order) Revoke(reason string, now time.Time) error {
	if err := o.transition(StatusRevoked, EventKindOrderRevoked, map[string]string{"reason": reason}, now); err != nil {
		return err
	}
	for _, it := range o.items {
		it.shred()
	}
	o.emit(EventOrderRevoked, now, reason)
	return nil
}
