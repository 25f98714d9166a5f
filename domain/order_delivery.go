package domain

import (
	"fmt"
	"time"
)

// ClaimDelivery lets one worker at a time deliver a fulfilled order: it
// records claimID and reports true unless another claim younger than lease
// is held. A claim older than lease is taken over (its worker died); a
// released claim is free at once. It reports false for an order that is
// not fulfilled.
func (o *Order) ClaimDelivery(claimID string, now time.Time, lease time.Duration) bool {
	if o.status != StatusFulfilled {
		return false
	}
	if held, at := o.deliveryClaim(); held != "" && held != claimID && now.Sub(at) < lease {
		return false
	}
	o.record("delivery_claimed", map[string]string{"claim": claimID}, now)
	return true
}

// HoldsDelivery reports whether claimID is the current claim and younger
// than lease: a worker checks it before each step that cannot be undone.
func (o *Order) HoldsDelivery(claimID string, now time.Time, lease time.Duration) bool {
	held, at := o.deliveryClaim()
	return o.status == StatusFulfilled && held == claimID && now.Sub(at) < lease
}

// ReleaseDelivery gives up claimID after a failure, so the next attempt
// need not wait for the lease; releasing a claim not held does nothing.
func (o *Order) ReleaseDelivery(claimID string, now time.Time) {
	if held, _ := o.deliveryClaim(); held == claimID {
		o.record("delivery_released", map[string]string{"claim": claimID}, now)
	}
}

// deliveryClaim returns the claim in force and when it was made.
func (o *Order) deliveryClaim() (string, time.Time) {
	for i := len(o.timeline) - 1; i >= 0; i-- {
		switch e := o.timeline[i]; e.Type {
		case "delivery_claimed":
			return e.Metadata["claim"], e.At
		case "delivery_released":
			return "", time.Time{}
		}
	}
	return "", time.Time{}
}

// MarkDelivered records that a delivery link was sent.
func (o *Order) MarkDelivered(linkID string, now time.Time) error {
	if err := o.transition(StatusDelivered, "delivery_link_sent", map[string]string{"link_id": linkID}, now); err != nil {
		return err
	}
	o.emit(EventOrderDelivered, now, "")
	return nil
}

// RecordLinkResent adds a timeline entry for a re-sent delivery link; the
// order must be delivered.
func (o *Order) RecordLinkResent(linkID string, now time.Time) error {
	if o.status != StatusDelivered {
		return fmt.Errorf("%w: order %s is %s, not delivered", ErrInvalidTransition, o.id, o.status)
	}
	o.record("delivery_link_resent", map[string]string{"link_id": linkID}, now)
	return nil
}

// Revoke destroys access to the keys: the caller shreds the data key and
// ciphertext; the order forgets its sealed key references.
func (o *Order) Revoke(reason string, now time.Time) error {
	if err := o.transition(StatusRevoked, "order_revoked", map[string]string{"reason": reason}, now); err != nil {
		return err
	}
	for _, it := range o.items {
		it.shred()
	}
	o.emit(EventOrderRevoked, now, reason)
	return nil
}
