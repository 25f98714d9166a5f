package domain

import (
	"crypto/subtle"
	"fmt"
	"strings"
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

// AttachPayment stores the payment the gateway issued. It is allowed once,
// while the order awaits payment; otherwise ErrInvalidTransition.
func (o *Order) AttachPayment(p Payment, now time.Time) error {
	if o.status != StatusPendingPayment || o.payment.PaymentID != "" {
		return fmt.Errorf("%w: order %s already has a payment or is %s", ErrInvalidTransition, o.id, o.status)
	}
	if p.PaymentID == "" || p.Provider == "" {
		return fmt.Errorf("%w: payment without provider or id", ErrInvalidOrder)
	}
	if p.Status.IsZero() {
		p.Status = PaymentWaiting
	}
	o.payment = p
	o.record("payment_created", map[string]string{"provider": p.Provider, "payment_id": p.PaymentID}, now)
	return nil
}

// ApplyPayment moves the order according to a verified payment update and
// reports whether anything changed. Repeated, older or late updates are
// no-ops. A finished payment whose amount or currency does not match is
// held as underpaid, never paid. It returns ErrInvalidOrder when the update
// is for another payment.
func (o *Order) ApplyPayment(u PaymentUpdate, now time.Time) (bool, error) {
	if u.PaymentID != o.payment.PaymentID {
		return false, fmt.Errorf("%w: payment %s does not belong to order %s", ErrInvalidOrder, u.PaymentID, o.id)
	}
	if o.status != StatusPendingPayment && o.status != StatusUnderpaid {
		return false, nil
	}
	if u.Status.rank <= o.payment.Status.rank {
		return false, nil
	}
	o.payment.Status = u.Status
	if !u.ActuallyPaid.IsZero() {
		o.payment.ActuallyPaid = u.ActuallyPaid
	}
	meta := map[string]string{"payment_status": u.Status.String(), "actually_paid": u.ActuallyPaid.String()}
	switch u.Status {
	case PaymentFinished:
		if reason := o.paymentMismatch(u); reason != "" {
			meta["reason"] = reason
			return true, o.hold(reason, meta, now)
		}
		if err := o.transition(StatusPaid, "payment_confirmed", meta, now); err != nil {
			return false, err
		}
		o.emit(EventOrderPaid, now, "")
	case PaymentPartiallyPaid:
		meta["reason"] = "partially_paid"
		return true, o.hold("partially_paid", meta, now)
	case PaymentFailed, PaymentExpired:
		if o.status == StatusUnderpaid {
			// Part of the money arrived: the order stays held for review.
			o.record("payment_"+u.Status.String(), meta, now)
			return true, nil
		}
		if err := o.transition(StatusExpired, "payment_"+u.Status.String(), meta, now); err != nil {
			return false, err
		}
		o.emit(EventOrderExpired, now, u.Status.String())
	default:
		o.record("payment_"+u.Status.String(), meta, now)
	}
	return true, nil
}

func (o *Order) hold(reason string, meta map[string]string, now time.Time) error {
	if o.status == StatusUnderpaid {
		o.record("payment_held", meta, now)
		return nil
	}
	if err := o.transition(StatusUnderpaid, "payment_held", meta, now); err != nil {
		return err
	}
	o.emit(EventPaymentHeld, now, reason)
	return nil
}

// paymentMismatch returns why a finished payment cannot be accepted, or "".
func (o *Order) paymentMismatch(u PaymentUpdate) string {
	switch {
	case u.PriceCurrency == "" || !strings.EqualFold(u.PriceCurrency, o.total.Currency().String()):
		return "price_currency_mismatch"
	case !u.PriceAmount.Equal(o.total.Amount()):
		return "price_amount_mismatch"
	case !strings.EqualFold(u.PayCurrency, o.payment.PayCurrency):
		return "pay_currency_mismatch"
	case u.ActuallyPaid.LessThan(o.payment.PayAmount):
		return "insufficient_amount"
	}
	return ""
}

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

// Expire ends an order that was never (fully) paid.
func (o *Order) Expire(now time.Time) error {
	if err := o.transition(StatusExpired, "order_expired", nil, now); err != nil {
		return err
	}
	o.emit(EventOrderExpired, now, "")
	return nil
}

func (o *Order) fulfillingItem(itemID string) (*OrderItem, error) {
	if o.status != StatusFulfilling {
		return nil, fmt.Errorf("%w: order %s is %s, not fulfilling", ErrInvalidTransition, o.id, o.status)
	}
	return o.Item(itemID)
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
