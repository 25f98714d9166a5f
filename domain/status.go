package domain

import "fmt"

// OrderStatus is the state of an order. The zero value is invalid; values
// come from the package variables or ParseOrderStatus.
type OrderStatus struct{ name string }

// The order states of DESIGN §2.
var (
	// StatusAwaitingPaymentSetup: the order is stored but the gateway has
	// not issued its payment yet (it was down); the payment is retried.
	StatusAwaitingPaymentSetup = OrderStatus{"awaiting_payment_setup"}
	StatusPendingPayment       = OrderStatus{"pending_payment"}
	StatusPaid                 = OrderStatus{"paid"}
	StatusFulfilling           = OrderStatus{"fulfilling"}
	StatusFulfilled            = OrderStatus{"fulfilled"}
	StatusDelivered            = OrderStatus{"delivered"}
	StatusUnderpaid            = OrderStatus{"underpaid"}
	StatusExpired              = OrderStatus{"expired"}
	StatusFailed               = OrderStatus{"failed"}
	StatusRevoked              = OrderStatus{"revoked"}
	// StatusRefunded: the customer's money went back: the gateway returned
	// it before the order was paid in full, or an admin refunded a paid
	// order (its unrevealed keys restocked or returned, the rest shredded).
	StatusRefunded = OrderStatus{"refunded"}
	// StatusNeedsReview: fulfilment cannot go on without a person (a
	// supplier that does not know a purchase we recorded, a price above
	// what the order can afford for too long, a stuck order): held with
	// the reason until an admin retries or revokes it.
	StatusNeedsReview = OrderStatus{"needs_review"}
)

// OrderStatuses lists every valid order status.
var OrderStatuses = []OrderStatus{
	StatusAwaitingPaymentSetup, StatusPendingPayment, StatusPaid, StatusFulfilling, StatusFulfilled, StatusDelivered,
	StatusUnderpaid, StatusExpired, StatusFailed, StatusRevoked, StatusRefunded, StatusNeedsReview,
}

// orderTransitions is the forward-only state machine. failed → fulfilling and
// needs_review → fulfilling are the edges an operator triggers by hand
// (retry after fixing the cause).
var orderTransitions = map[OrderStatus][]OrderStatus{
	StatusAwaitingPaymentSetup: {StatusPendingPayment, StatusExpired},
	StatusPendingPayment:       {StatusPaid, StatusUnderpaid, StatusExpired, StatusRefunded},
	StatusUnderpaid:            {StatusPaid, StatusExpired, StatusRefunded},
	StatusPaid:                 {StatusFulfilling, StatusFailed, StatusNeedsReview},
	StatusFulfilling:           {StatusFulfilled, StatusFailed, StatusNeedsReview},
	StatusNeedsReview:          {StatusFulfilling, StatusRevoked, StatusRefunded},
	StatusFulfilled:            {StatusDelivered, StatusRevoked, StatusRefunded},
	StatusDelivered:            {StatusRevoked, StatusRefunded},
	StatusFailed:               {StatusFulfilling, StatusRevoked, StatusRefunded},
	// A payment that finishes after the order expired is kept for a
	// person to decide on, never dropped.
	StatusExpired: {StatusNeedsReview},
}

// ParseOrderStatus returns the status named s, or ErrInvalidOrder.
func ParseOrderStatus(s string) (OrderStatus, error) {
	for _, st := range OrderStatuses {
		if st.name == s {
			return st, nil
		}
	}
	return OrderStatus{}, fmt.Errorf("%w: unknown order status %q", ErrInvalidOrder, s)
}

// String returns the status's stored name, "" for the zero value.
func (s OrderStatus) String() string { return s.name }

// CanTransitionTo reports whether the state machine allows s → to.
func (s OrderStatus) CanTransitionTo(to OrderStatus) bool {
	for _, allowed := range orderTransitions[s] {
		if allowed == to {
			return true
		}
	}
	return false
}

// IsTerminal reports whether no transition leaves s.
func (s OrderStatus) IsTerminal() bool { return len(orderTransitions[s]) == 0 }

// ItemStatus is the fulfilment state of one order item.
type ItemStatus struct{ name string }

// The item states: pending → purchasing → purchased → sealed, or failed;
// a pre-order waits between purchased and sealed as awaiting_release.
var (
	ItemPending    = ItemStatus{"pending"}
	ItemPurchasing = ItemStatus{"purchasing"}
	ItemPurchased  = ItemStatus{"purchased"}
	// ItemAwaitingRelease: bought from the supplier as a pre-order; its
	// keys come after the release date the item records.
	ItemAwaitingRelease = ItemStatus{"awaiting_release"}
	ItemSealed          = ItemStatus{"sealed"}
	ItemFailed          = ItemStatus{"failed"}
)

// ItemStatuses lists every valid item status.
var ItemStatuses = []ItemStatus{ItemPending, ItemPurchasing, ItemPurchased, ItemAwaitingRelease, ItemSealed, ItemFailed}

// ParseItemStatus returns the item status named s, or ErrInvalidOrder.
func ParseItemStatus(s string) (ItemStatus, error) {
	for _, st := range ItemStatuses {
		if st.name == s {
			return st, nil
		}
	}
	return ItemStatus{}, fmt.Errorf("%w: unknown item status %q", ErrInvalidOrder, s)
}

// String returns the status's stored name, "" for the zero value.
func (s ItemStatus) String() string { return s.name }
