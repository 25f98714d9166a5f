package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// NotifyCustomer emails the customer about an order event: the order
// received with how to pay, the payment confirmed, a pre-order waiting for
// its release date, fulfilment delayed, the order revoked. (The keys-ready email goes out with the delivery link, from
// DeliverOrder.) Each email carries an idempotency key made of the email,
// the order and the event, so a handler that runs twice on one event sends
// one email: the mailer deduplicates by it (Resend's Idempotency-Key, the
// SMTP sent-mail log, the maildir file name).
type NotifyCustomer struct {
	orders ports.OrderRepository
	mailer ports.Mailer
	clock  ports.Clock
	log    *slog.Logger
}

// notifyMaxAge is how old an event may be and still email the customer.
// Older ones are news nobody needs: a dead letter replayed days later, or
// the history a new consumer reads from the start of a topic.
const notifyMaxAge = 24 * time.Hour

// NewNotifyCustomer wires NotifyCustomer; it panics when a dependency is nil.
func NewNotifyCustomer(orders ports.OrderRepository, mailer ports.Mailer, clock ports.Clock, log *slog.Logger) NotifyCustomer {
	require("NotifyCustomer", "orders", orders, "mailer", mailer, "clock", clock, "log", log)
	return NotifyCustomer{orders: orders, mailer: mailer, clock: clock, log: log}
}

// notifications maps the events that email the customer to their email.
// The order's payment instructions go out on order.payment_created, which
// the order emits whenever its payment is set up: at placement, or later
// when the gateway was down then.
var notifications = map[string]emailKind{
	domain.EventPaymentCreated:   emailOrderReceived,
	domain.EventOrderPaid:        emailPaymentConfirmed,
	domain.EventOrderFailed:      emailFulfilmentDelayed,
	domain.EventOrderNeedsReview: emailFulfilmentDelayed,
	domain.EventOrderRevoked:     emailOrderRevoked,
	domain.EventOrderPreordered:  emailOrderPreordered,
}

// NotifiedEvents lists the order events NotifyCustomer handles as a
// consumer of its own. order.paid is not among them: its email goes out
// from fulfilment's handling of the same message (FulfilPaid).
func NotifiedEvents() []string {
	var out []string
	for _, name := range domain.OrderEventNames {
		if _, ok := notifications[name]; ok && name != domain.EventOrderPaid {
			out = append(out, name)
		}
	}
	return out
}

// Handle sends ev's email. It is a no-op for an event that emails nobody,
// for an event older than a day, for an unknown order, and for an email the
// order has outgrown: payment
// instructions once the order no longer awaits payment (or before it has
// a payment), the payment's confirmation once the order is past paid and
// fulfilling (its keys email on its way or out, or another email said
// the rest), a delay once fulfilment is running again. It returns an
// error wrapping ErrUnavailable when the order cannot be read or the mailer
// asks to retry, and the mailer's ports.ErrMailRejected error when the
// message was refused for good.
func (h NotifyCustomer) Handle(ctx context.Context, ev domain.OrderEvent) error {
	kind, ok := notifications[ev.Name]
	if !ok {
		return nil
	}
	if age := h.clock.Now().Sub(ev.At); age > notifyMaxAge {
		h.log.InfoContext(ctx, "event too old to email about", "event", ev.Name, "order_id", ev.OrderID, "age", age.String())
		return nil
	}
	o, err := h.orders.Get(ctx, ev.OrderID)
	if errors.Is(err, domain.ErrNotFound) {
		h.log.WarnContext(ctx, "event for an unknown order; no email", "event", ev.Name, "order_id", ev.OrderID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: load order %s: %v", ErrUnavailable, ev.OrderID, err)
	}
	data := newEmailData(o)
	switch kind {
	case emailOrderReceived:
		if o.Status() != domain.StatusPendingPayment {
			return nil
		}
		if data, ok = data.withPayment(o.Payment()); !ok {
			return nil // order.payment_created follows once the gateway answers
		}
	case emailPaymentConfirmed:
		// Only while the keys are still to come: a fulfilled order's
		// keys email is on its way (or out), a failed one's delay email
		// says the payment is safe, a revoked one has its own.
		if o.Status() != domain.StatusPaid && o.Status() != domain.StatusFulfilling {
			return nil
		}
	case emailFulfilmentDelayed:
		if o.Status() != domain.StatusFailed && o.Status() != domain.StatusNeedsReview {
			return nil
		}
	case emailOrderPreordered:
		if o.Status() != domain.StatusFulfilling {
			return nil
		}
		if data, ok = data.withPreorders(o); !ok {
			return nil // released and sealed meanwhile: the keys-ready email says the rest
		}
	}
	m, err := kind.render(o.Email().String(), notificationKey(kind, ev), data)
	if err != nil {
		return err
	}
	if _, err := h.mailer.Send(ctx, m); err != nil {
		if errors.Is(err, ports.ErrMailRejected) {
			return fmt.Errorf("send %s email for order %s: %w", kind, o.ID(), err)
		}
		return fmt.Errorf("%w: send %s email for order %s: %v", ErrUnavailable, kind, o.ID(), err)
	}
	h.log.InfoContext(ctx, "customer notified", "order_id", o.ID(), "email", string(kind))
	return nil
}

// notificationKey names one email about one event: a redelivered event
// carries the same name and time, so it gets the same key; an event that
// happens again (a second failure after a retry) gets a new one.
func notificationKey(kind emailKind, ev domain.OrderEvent) string {
	if kind == emailFulfilmentDelayed {
		// Once per order: a customer told of a delay is not told again
		// each time a retry stalls.
		return fmt.Sprintf("%s/%s", kind, ev.OrderID)
	}
	if item, release, ok := domain.ParsePreorderReason(ev.Reason); ok && kind == emailOrderPreordered {
		// The item and its release date too: each date an item is given
		// (a moved one) is an email of its own; the event handled again
		// is not.
		day := domain.FormatDay(release)
		if day == "" {
			day = "undated"
		}
		return fmt.Sprintf("%s/%s/%s/%s/%d", kind, ev.OrderID, item, day, ev.At.UnixNano())
	}
	return fmt.Sprintf("%s/%s/%s/%d", kind, ev.OrderID, ev.Name, ev.At.UnixNano())
}
