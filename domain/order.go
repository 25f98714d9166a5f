package domain

import (
	"crypto/subtle"
	"fmt"
	"time"
)

// MaxOrderItems bounds the lines of one order.
const MaxOrderItems = 10

// Order is the aggregate root of the fulfilment pipeline.
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

	timeline     []FulfillmentEvent
	storedEvents int // timeline entries that came from storage
	events       []Event
}

// NewOrder validates and prices a new order in pending_payment. It returns
// ErrInvalidOrder (or a product error) when the lines are empty, too many,
// repeat a sku, or mix currencies.
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
	o := &Order{id: id, email: email, accessTokenHash: accessTokenHash, status: StatusPendingPayment, createdAt: now, updatedAt: now}
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
	o.record("order_placed", nil, now)
	o.emit(EventOrderPlaced, now, "")
	return o, nil
}

// OrderSnapshot carries an order's stored fields.
type OrderSnapshot struct {
	ID              string
	Email           Email
	AccessTokenHash TokenHash
	Items           []*OrderItem
	Total           Money
	Payment         Payment
	Status          OrderStatus
	Version         int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Timeline        []FulfillmentEvent
}

// UnmarshalOrder rehydrates an order from storage. It returns
// ErrInvalidOrder only for corrupt data.
func UnmarshalOrder(s OrderSnapshot) (*Order, error) {
	if s.ID == "" || len(s.Items) == 0 || s.Status == (OrderStatus{}) {
		return nil, fmt.Errorf("%w: corrupt order %q", ErrInvalidOrder, s.ID)
	}
	return &Order{
		id: s.ID, email: s.Email, accessTokenHash: s.AccessTokenHash, items: s.Items, total: s.Total,
		payment: s.Payment, status: s.Status, version: s.Version, createdAt: s.CreatedAt,
		updatedAt: s.UpdatedAt, timeline: s.Timeline, storedEvents: len(s.Timeline),
	}, nil
}

// Snapshot returns the order's fields for storage.
func (o *Order) Snapshot() OrderSnapshot {
	return OrderSnapshot{
		ID: o.id, Email: o.email, AccessTokenHash: o.accessTokenHash, Items: o.items, Total: o.total,
		Payment: o.payment, Status: o.status, Version: o.version, CreatedAt: o.createdAt,
		UpdatedAt: o.updatedAt, Timeline: o.Timeline(),
	}
}

func (o *Order) ID() string           { return o.id }
func (o *Order) Email() Email         { return o.email }
func (o *Order) Total() Money         { return o.total }
func (o *Order) Payment() Payment     { return o.payment }
func (o *Order) Status() OrderStatus  { return o.status }
func (o *Order) Version() int         { return o.version }
func (o *Order) CreatedAt() time.Time { return o.createdAt }
func (o *Order) UpdatedAt() time.Time { return o.updatedAt }

// Items returns the order's lines. The pointers are shared; change them only
// through Order methods.
func (o *Order) Items() []*OrderItem { return append([]*OrderItem(nil), o.items...) }

// Item returns the line with the given id, or ErrItemNotFound.
func (o *Order) Item(id string) (*OrderItem, error) {
	for _, it := range o.items {
		if it.id == id {
			return it, nil
		}
	}
	return nil, fmt.Errorf("%w: %s in order %s", ErrItemNotFound, id, o.id)
}

// Timeline returns every fulfilment event, oldest first.
func (o *Order) Timeline() []FulfillmentEvent { return append([]FulfillmentEvent(nil), o.timeline...) }

// NewTimeline returns the timeline entries added since the order was loaded.
func (o *Order) NewTimeline() []FulfillmentEvent {
	return append([]FulfillmentEvent(nil), o.timeline[o.storedEvents:]...)
}

// PopEvents returns and forgets the domain events collected so far.
func (o *Order) PopEvents() []Event {
	ev := o.events
	o.events = nil
	return ev
}

// MarkSaved is called by repositories after a successful save: it bumps the
// version and marks the timeline as stored.
func (o *Order) MarkSaved() {
	o.version++
	o.storedEvents = len(o.timeline)
}

// CheckAccessToken reports, in constant time, whether token opens this order.
func (o *Order) CheckAccessToken(token string) bool {
	h := HashToken(token)
	return subtle.ConstantTimeCompare(h[:], o.accessTokenHash[:]) == 1
}

func (o *Order) transition(to OrderStatus, typ string, meta map[string]string, now time.Time) error {
	if !o.status.CanTransitionTo(to) {
		return fmt.Errorf("%w: order %s %s → %s", ErrInvalidTransition, o.id, o.status, to)
	}
	if meta == nil {
		meta = map[string]string{}
	}
	meta["from"] = o.status.String()
	o.status = to
	o.record(typ, meta, now)
	return nil
}

func (o *Order) record(typ string, meta map[string]string, now time.Time) {
	o.touch(FulfillmentEvent{Type: typ, Status: o.status, Metadata: meta, At: now}, now)
}

func (o *Order) touch(ev FulfillmentEvent, now time.Time) {
	o.timeline = append(o.timeline, ev)
	o.updatedAt = now
}

func (o *Order) emit(name string, now time.Time, reason string) {
	o.events = append(o.events, OrderEvent{Name: name, OrderID: o.id, At: now, Reason: reason})
}
