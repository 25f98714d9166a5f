package domain

import (
	"crypto/subtle"
	"fmt"
	"time"
)

// MaxOrderItems is the most lines one order may have.
const MaxOrderItems = 10

// Order is the aggregate root of the fulfilment pipeline: its lines, its
// payment, its status (a forward-only state machine, see OrderStatus), the
// delivery claim of the worker sending its link, and its timeline. Change
// it only through its methods, which return ErrInvalidTransition for a
// step the state machine does not allow.
type Order struct {
	id              string
	email           Email
	accessTokenHash TokenHash
	items           []*OrderItem
	total           Money
	payment         Payment
	status          OrderStatus
	version         int
	createdAt       time.Time
	updatedAt       time.Time
	deliveryClaim   DeliveryClaim

	timeline     []FulfillmentEvent
	storedEvents int // timeline entries that came from storage
	events       []Event
}

// NewOrder validates and prices a new order in awaiting_payment_setup (it
// has no payment until AttachPayment), recording order_placed and
// collecting EventOrderPlaced. It returns ErrInvalidOrder
// when the id or email is missing, or the lines are empty, more than
// MaxOrderItems, repeat a sku, mix currencies or ask for a quantity outside
// 1..MaxItemQuantity; ErrProductInactive or ErrOutOfStock when a product
// cannot be sold in that quantity.
func NewOrder(id string, email Email, accessTokenHash TokenHash, lines []NewItem, now time.Time) (*Order, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: order id is empty", ErrInvalidOrder)
	}
	if email == (Email{}) {
		return nil, fmt.Errorf("%w: order has no email", ErrInvalidOrder)
	}
	if len(lines) == 0 || len(lines) > MaxOrderItems {
		return nil, fmt.Errorf("%w: an order has 1..%d items, got %d", ErrInvalidOrder, MaxOrderItems, len(lines))
	}
	o := &Order{id: id, email: email, accessTokenHash: accessTokenHash, status: StatusAwaitingPaymentSetup, createdAt: now, updatedAt: now}
	seen := map[string]bool{}
	for _, l := range lines {
		it, err := newOrderItem(l)
		if err != nil {
			return nil, err
		}
		if seen[it.sku] {
			return nil, fmt.Errorf("%w: sku %s appears twice", ErrInvalidOrder, it.sku)
		}
		seen[it.sku] = true
		if o.total.Currency().IsZero() {
			o.total = Zero(it.unitPrice.Currency())
		}
		if o.total, err = o.total.Add(it.Subtotal()); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidOrder, err)
		}
		o.items = append(o.items, it)
	}
	o.record(EventKindOrderPlaced, nil, now)
	o.emit(EventOrderPlaced, now, "")
	return o, nil
}

// OrderSnapshot carries an order's stored fields. It is a value: it shares
// nothing the order can change, so storage may keep it as it is.
type OrderSnapshot struct {
	ID              string
	Email           Email
	AccessTokenHash TokenHash
	Items           []ItemSnapshot
	Total           Money
	Payment         Payment
	Status          OrderStatus
	Version         int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	DeliveryClaim   DeliveryClaim
	Timeline        []FulfillmentEvent
}

// UnmarshalOrder rehydrates an order from storage without re-validating
// business rules; it keeps no reference to s. It returns ErrInvalidOrder
// only for corrupt data: no id, status or items, a corrupt item, a claim
// without an id or a time, or a zero timeline entry.
func UnmarshalOrder(s OrderSnapshot) (*Order, error) {
	if s.ID == "" || len(s.Items) == 0 || s.Status == (OrderStatus{}) {
		return nil, fmt.Errorf("%w: corrupt order %q", ErrInvalidOrder, s.ID)
	}
	if (s.DeliveryClaim.ID == "") != s.DeliveryClaim.ClaimedAt.IsZero() {
		return nil, fmt.Errorf("%w: order %s has a delivery claim without an id or a time", ErrInvalidOrder, s.ID)
	}
	items := make([]*OrderItem, len(s.Items))
	for i, is := range s.Items {
		it, err := unmarshalOrderItem(is)
		if err != nil {
			return nil, fmt.Errorf("order %s: %w", s.ID, err)
		}
		items[i] = it
	}
	for _, e := range s.Timeline {
		if e.kind == (EventKind{}) {
			return nil, fmt.Errorf("%w: order %s has a zero timeline entry", ErrInvalidOrder, s.ID)
		}
	}
	return &Order{
		id: s.ID, email: s.Email, accessTokenHash: s.AccessTokenHash, items: items, total: s.Total,
		payment: s.Payment, status: s.Status, version: s.Version, createdAt: s.CreatedAt,
		updatedAt: s.UpdatedAt, deliveryClaim: s.DeliveryClaim,
		timeline: append([]FulfillmentEvent(nil), s.Timeline...), storedEvents: len(s.Timeline),
	}, nil
}

// Snapshot returns the order's fields for storage, as values that later
// changes to the order do not reach.
func (o *Order) Snapshot() OrderSnapshot {
	items := make([]ItemSnapshot, len(o.items))
	for i, it := range o.items {
		items[i] = it.Snapshot()
	}
	return OrderSnapshot{
		ID: o.id, Email: o.email, AccessTokenHash: o.accessTokenHash, Items: items, Total: o.total,
		Payment: o.payment, Status: o.status, Version: o.version, CreatedAt: o.createdAt,
		UpdatedAt: o.updatedAt, DeliveryClaim: o.deliveryClaim, Timeline: o.Timeline(),
	}
}

// ID returns the order's id (the application issues UUIDv7s, which sort
// by creation time).
func (o *Order) ID() string { return o.id }

// Email returns the customer's address.
func (o *Order) Email() Email { return o.email }

// Total returns the sum of the lines' subtotals.
func (o *Order) Total() Money { return o.total }

// Payment returns the payment attached to the order; its zero value until
// AttachPayment.
func (o *Order) Payment() Payment { return o.payment }

// Status returns where the order is in its state machine.
func (o *Order) Status() OrderStatus { return o.status }

// Version returns how many times the order has been saved.
func (o *Order) Version() int { return o.version }

// CreatedAt returns when the order was placed.
func (o *Order) CreatedAt() time.Time { return o.createdAt }

// UpdatedAt returns when the order last changed.
func (o *Order) UpdatedAt() time.Time { return o.updatedAt }

// Items returns the order's lines. The pointers are shared; change them only
// through Order methods.
func (o *Order) Items() []*OrderItem { return append([]*OrderItem(nil), o.items...) }

// Item returns the line with the given id; ErrItemNotFound when the order
// has none.
func (o *Order) Item(id string) (*OrderItem, error) {
	for _, it := range o.items {
		if it.id == id {
			return it, nil
		}
	}
	return nil, fmt.Errorf("%w: %s in order %s", ErrItemNotFound, id, o.id)
}

// Timeline returns every timeline entry, oldest first.
func (o *Order) Timeline() []FulfillmentEvent { return append([]FulfillmentEvent(nil), o.timeline...) }

// NewTimeline returns the timeline entries added since the order was loaded.
func (o *Order) NewTimeline() []FulfillmentEvent {
	return append([]FulfillmentEvent(nil), o.timeline[o.storedEvents:]...)
}

// PopEvents returns and forgets the domain events collected so far (nil
// when there are none).
func (o *Order) PopEvents() []Event {
	ev := o.events
	o.events = nil
	return ev
}

// MarkSaved is called by repositories after a successful save: it bumps the
// version and marks the timeline as stored, so NewTimeline starts empty.
func (o *Order) MarkSaved() {
	o.version++
	o.storedEvents = len(o.timeline)
}

// CheckAccessToken reports, in constant time, whether token opens this order.
func (o *Order) CheckAccessToken(token string) bool {
	h := HashToken(token)
	return subtle.ConstantTimeCompare(h[:], o.accessTokenHash[:]) == 1
}

func (o *Order) transition(to OrderStatus, kind EventKind, meta map[string]string, now time.Time) error {
	if !o.status.CanTransitionTo(to) {
		return fmt.Errorf("%w: order %s %s → %s", ErrInvalidTransition, o.id, o.status, to)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	meta["from"] = o.status.String()
	o.status = to
	o.record(kind, meta, now)
	return nil
}

func (o *Order) record(kind EventKind, meta map[string]string, now time.Time) {
	o.touch(newFulfillmentEvent(kind, o.status, meta, now), now)
}

func (o *Order) touch(ev FulfillmentEvent, now time.Time) {
	o.timeline = append(o.timeline, ev)
	o.updatedAt = now
}

func (o *Order) emit(name string, now time.Time, reason string) {
	o.events = append(o.events, OrderEvent{Name: name, OrderID: o.id, At: now, Reason: reason})
}
