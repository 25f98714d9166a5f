package domain

import (
	"fmt"
	"maps"
	"time"
)

// EventKind names what a timeline entry records. The zero value is invalid;
// values come from the package variables or ParseEventKind. It is a struct,
// like OrderStatus, so that no conversion from an arbitrary string can make
// one.
type EventKind struct{ name string }

// The kinds of timeline entry. Their names are stored and shown by the
// API, so they never change.
var (
	EventKindOrderPlaced        = EventKind{"order_placed"}
	EventKindPaymentCreated     = EventKind{"payment_created"}
	EventKindPaymentSetupFailed = EventKind{"payment_setup_failed"}
	EventKindRepeatDeposit      = EventKind{"repeat_deposit"}
	EventKindPaymentConfirmed   = EventKind{"payment_confirmed"} // paid; also the gateway's "confirmed" status
	EventKindPaymentHeld        = EventKind{"payment_held"}
	EventKindPaymentWaiting     = EventKind{"payment_waiting"}
	EventKindPaymentConfirming  = EventKind{"payment_confirming"}
	EventKindPaymentSending     = EventKind{"payment_sending"}
	EventKindPaymentFailed      = EventKind{"payment_failed"}
	EventKindPaymentExpired     = EventKind{"payment_expired"}
	EventKindPaymentRefunded    = EventKind{"payment_refunded"}
	EventKindOrderExpired       = EventKind{"order_expired"}
	EventKindFulfilmentStarted  = EventKind{"fulfilment_started"}
	EventKindItemPurchasing     = EventKind{"item_purchasing"}
	EventKindItemPurchased      = EventKind{"item_purchased"}
	EventKindItemSealed         = EventKind{"item_sealed"}
	// EventKindItemAwaitingRelease: a pre-ordered item waits for its
	// release date (metadata release_date, YYYY-MM-DD).
	EventKindItemAwaitingRelease  = EventKind{"item_awaiting_release"}
	EventKindItemFailed           = EventKind{"item_failed"}
	EventKindOrderFulfilled       = EventKind{"order_fulfilled"}
	EventKindOrderFailed          = EventKind{"order_failed"}
	EventKindFulfilmentRetried    = EventKind{"fulfilment_retried"}
	EventKindDeliveryClaimed      = EventKind{"delivery_claimed"}
	EventKindDeliveryReleased     = EventKind{"delivery_released"}
	EventKindDeliveryLinkSent     = EventKind{"delivery_link_sent"}
	EventKindDeliveryLinkResent   = EventKind{"delivery_link_resent"}
	EventKindOrderRevoked         = EventKind{"order_revoked"}
	EventKindHeldForReview        = EventKind{"held_for_review"}
	EventKindClaimOpened          = EventKind{"claim_opened"}
	EventKindClaimRejected        = EventKind{"claim_rejected"}
	EventKindKeyReplaced          = EventKind{"key_replaced"}          // a claim was approved: the item's keys were replaced
	EventKindOrderRefunded        = EventKind{"order_refunded"}        // an admin (or the gateway) refunded a paid order
	EventKindKeyOutcome           = EventKind{"key_outcome"}           // what a refund did with one key
	EventKindReturnRequested      = EventKind{"return_requested"}      // a refund is about to ask a supplier to take keys back
	EventKindReturnAnswered       = EventKind{"return_answered"}       // the supplier's answer to that request
	EventKindReplacementRequested = EventKind{"replacement_requested"} // a claim's replacement is about to be bought from a supplier
	EventKindReplacementBought    = EventKind{"replacement_bought"}    // the supplier order that bought it
)

// EventKinds lists every valid timeline entry kind.
var EventKinds = []EventKind{
	EventKindOrderPlaced, EventKindPaymentCreated, EventKindPaymentConfirmed, EventKindPaymentHeld,
	EventKindPaymentWaiting, EventKindPaymentConfirming, EventKindPaymentSending, EventKindPaymentFailed,
	EventKindPaymentExpired, EventKindPaymentRefunded, EventKindOrderExpired, EventKindFulfilmentStarted,
	EventKindItemPurchasing, EventKindItemPurchased, EventKindItemSealed, EventKindItemFailed,
	EventKindOrderFulfilled, EventKindOrderFailed, EventKindFulfilmentRetried, EventKindDeliveryClaimed,
	EventKindDeliveryReleased, EventKindDeliveryLinkSent, EventKindDeliveryLinkResent, EventKindOrderRevoked,
	EventKindPaymentSetupFailed, EventKindRepeatDeposit, EventKindHeldForReview,
	EventKindClaimOpened, EventKindClaimRejected, EventKindKeyReplaced, EventKindOrderRefunded, EventKindKeyOutcome,
	EventKindReturnRequested, EventKindReturnAnswered, EventKindReplacementRequested, EventKindReplacementBought,
	EventKindItemAwaitingRelease,
}

// paymentUpdateKinds names the entry that records a payment status which
// does not move the order (or, for failed and expired, ends it). Finished
// and partially paid never appear here: they record EventKindPaymentConfirmed
// or EventKindPaymentHeld.
var paymentUpdateKinds = map[PaymentStatus]EventKind{
	PaymentWaiting:    EventKindPaymentWaiting,
	PaymentConfirming: EventKindPaymentConfirming,
	PaymentConfirmed:  EventKindPaymentConfirmed,
	PaymentSending:    EventKindPaymentSending,
	PaymentFailed:     EventKindPaymentFailed,
	PaymentExpired:    EventKindPaymentExpired,
	PaymentRefunded:   EventKindPaymentRefunded,
}

// ParseEventKind returns the kind named s; ErrInvalidOrder for any other
// string, so that a timeline read from storage holds only known kinds.
func ParseEventKind(s string) (EventKind, error) {
	for _, k := range EventKinds {
		if k.name == s {
			return k, nil
		}
	}
	return EventKind{}, fmt.Errorf("%w: unknown timeline entry kind %q", ErrInvalidOrder, s)
}

// String returns the kind's stored name, "" for the zero value.
func (k EventKind) String() string { return k.name }

// FulfillmentEvent is one entry of an order's append-only timeline: what
// happened (its kind), the order's status afterwards, details, and when.
// Entries are made by Order methods and never change; Metadata returns a
// copy.
type FulfillmentEvent struct {
	kind     EventKind
	status   OrderStatus
	metadata map[string]string
	at       time.Time
}

// UnmarshalFulfillmentEvent rehydrates a stored timeline entry, copying
// metadata. It returns ErrInvalidOrder when the kind, status or time is
// missing (parse kind and status with ParseEventKind and ParseOrderStatus).
func UnmarshalFulfillmentEvent(kind EventKind, status OrderStatus, metadata map[string]string, at time.Time) (FulfillmentEvent, error) {
	if kind == (EventKind{}) || status == (OrderStatus{}) || at.IsZero() {
		return FulfillmentEvent{}, fmt.Errorf("%w: corrupt timeline entry %q at %s", ErrInvalidOrder, kind, at)
	}
	return newFulfillmentEvent(kind, status, maps.Clone(metadata), at), nil
}

// newFulfillmentEvent keeps meta as given: callers hand it over.
func newFulfillmentEvent(kind EventKind, status OrderStatus, meta map[string]string, at time.Time) FulfillmentEvent {
	if meta == nil {
		meta = map[string]string{}
	}
	return FulfillmentEvent{kind: kind, status: status, metadata: meta, at: at}
}

// Kind returns what the entry records.
func (e FulfillmentEvent) Kind() EventKind { return e.kind }

// Status returns the order's status once the entry was recorded.
func (e FulfillmentEvent) Status() OrderStatus { return e.status }

// At returns when the entry was recorded.
func (e FulfillmentEvent) At() time.Time { return e.at }

// Metadata returns a copy of the entry's details (never nil).
func (e FulfillmentEvent) Metadata() map[string]string {
	if e.metadata == nil {
		return map[string]string{}
	}
	return maps.Clone(e.metadata)
}

// Value returns one detail of the entry, "" when absent.
func (e FulfillmentEvent) Value(key string) string { return e.metadata[key] }
