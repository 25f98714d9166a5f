package domain

import (
	"slices"
	"time"
)

// Event is something that happened to an aggregate. Aggregates collect
// events; repositories publish them in the transaction that saves the
// aggregate.
type Event interface {
	// EventName is a stable, dotted name such as "order.paid".
	EventName() string
	// AggregateID is the id of the order the event belongs to.
	AggregateID() string
	// OccurredAt is when it happened.
	OccurredAt() time.Time
}

// OrderEvent is the payload every order event carries.
type OrderEvent struct {
	Name    string
	OrderID string
	At      time.Time
	Reason  string
}

// EventName returns the event's dotted name, one of OrderEventNames.
func (e OrderEvent) EventName() string { return e.Name }

// AggregateID returns the order's id.
func (e OrderEvent) AggregateID() string { return e.OrderID }

// OccurredAt returns when the event happened.
func (e OrderEvent) OccurredAt() time.Time { return e.At }

// Order event names.
const (
	EventOrderPlaced = "order.placed"
	// EventPaymentCreated: the order has its payment instructions (address
	// and amount), at placement or later when the gateway was down then.
	EventPaymentCreated    = "order.payment_created"
	EventOrderPaid         = "order.paid"
	EventPaymentHeld       = "order.payment_held"
	EventOrderExpired      = "order.expired"
	EventOrderRefunded     = "order.refunded"
	EventOrderNeedsReview  = "order.needs_review"
	EventFulfilmentRetried = "order.fulfilment_retried"
	EventOrderFulfilled    = "order.fulfilled"
	EventOrderDelivered    = "order.delivered"
	EventOrderFailed       = "order.failed"
	EventOrderRevoked      = "order.revoked"
	// Claims on an order's keys (see Claim): opened by the customer,
	// approved or rejected by support; key.replaced when an approval
	// sealed the replacement keys.
	EventClaimOpened   = "claim.opened"
	EventClaimApproved = "claim.approved"
	EventClaimRejected = "claim.rejected"
	EventKeyReplaced   = "key.replaced"
	// EventKeyReturned: a refund gave an order's unrevealed keys back to
	// the supplier they were bought from (the reason names the supplier
	// order).
	EventKeyReturned = "key.returned"
	// EventOrderPreordered: an item was bought as a pre-order and waits
	// for its release (the reason is PreorderReason: the item and the date).
	EventOrderPreordered = "order.preordered"
)

// QueueEventNames lists the events keyward's own consumers act on, and so
// the only ones that go on the queue: the pipeline's (order.placed, to set
// up a payment the gateway could not make at placement; order.paid and
// order.fulfilment_retried, to fulfil), the customer notifications'
// (order.payment_created, order.failed, order.needs_review,
// order.revoked, order.preordered) and the sign-in links'. Every other
// event (order.fulfilled, order.delivered, a refund, a claim…) is told by
// what its save writes with it, the order's timeline, the audit trail and
// the webhook messages: a queued message of it would be read by no one.
var QueueEventNames = slices.Concat([]string{
	EventOrderPlaced, EventOrderPaid, EventFulfilmentRetried,
	EventPaymentCreated, EventOrderFailed, EventOrderNeedsReview, EventOrderRevoked, EventOrderPreordered,
}, CustomerEventNames)

// queueEvent is QueueEventNames as a set.
var queueEvent = func() map[string]bool {
	m := make(map[string]bool, len(QueueEventNames))
	for _, n := range QueueEventNames {
		m[n] = true
	}
	return m
}()

// QueuedEvents returns the events of one save that go on the queue: those
// of QueueEventNames, but an order.placed whose save also set the order's
// payment up (order.payment_created of the same order with it). The
// pipeline consumes order.placed only to set up a payment the gateway
// could not make at placement, so such a message would be read to find
// nothing to do. Webhooks report every event, queued or not.
func QueuedEvents(events []Event) []Event {
	paid := map[string]bool{}
	all := true
	for _, ev := range events {
		if ev.EventName() == EventPaymentCreated {
			paid[ev.AggregateID()] = true
		}
		all = all && queueEvent[ev.EventName()]
	}
	if len(paid) == 0 && all {
		return events
	}
	out := make([]Event, 0, len(events))
	for _, ev := range events {
		if queueEvent[ev.EventName()] && (ev.EventName() != EventOrderPlaced || !paid[ev.AggregateID()]) {
			out = append(out, ev)
		}
	}
	return out
}

// OrderEventNames lists every order event name (the topics they travel on).
var OrderEventNames = []string{
	EventOrderPlaced, EventPaymentCreated, EventOrderPaid, EventPaymentHeld, EventOrderExpired, EventOrderRefunded, EventOrderNeedsReview,
	EventFulfilmentRetried, EventOrderFulfilled, EventOrderDelivered, EventOrderFailed, EventOrderRevoked,
	EventClaimOpened, EventClaimApproved, EventClaimRejected, EventKeyReplaced, EventKeyReturned,
	EventOrderPreordered,
}
