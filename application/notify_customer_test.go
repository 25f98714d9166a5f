package application_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// placedOrder places an order for one in-stock product (the sandbox gateway
// attaches a payment).
func (w *world) placedOrder(t *testing.T) *domain.Order {
	t.Helper()
	products, err := w.catalog.List(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range products {
		if p.InStock() {
			placed, err := w.app().Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{
				Email: "buyer@example.com", Lines: []application.PlaceOrderLine{{SKU: p.SKU(), Quantity: 1}},
			})
			if err != nil {
				t.Fatal(err)
			}
			return placed.Order
		}
	}
	t.Fatal("no product in stock")
	return nil
}

// event returns the last event name published for the order.
func (w *world) event(t *testing.T, orderID, name string) domain.OrderEvent {
	t.Helper()
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	for i := len(w.events.events) - 1; i >= 0; i-- {
		if ev, ok := w.events.events[i].(domain.OrderEvent); ok && ev.OrderID == orderID && ev.Name == name {
			return ev
		}
	}
	t.Fatalf("no %s event for order %s", name, orderID)
	return domain.OrderEvent{}
}

func (w *world) update(t *testing.T, id string, fn func(o *domain.Order) error) {
	t.Helper()
	if _, err := w.orders.Update(t.Context(), id, fn); err != nil {
		t.Fatal(err)
	}
}

func (w *world) failedOrder(t *testing.T) *domain.Order {
	t.Helper()
	o := w.paidOrder(t, 1)
	w.update(t, o.ID(), func(o *domain.Order) error {
		if _, err := o.StartFulfilment(w.clock.Now()); err != nil {
			return err
		}
		return o.Fail("supplier refused the purchase", w.clock.Now())
	})
	return o
}

// maildirApp builds the application on a maildir mailer, the embedded
// default, which deduplicates by idempotency key like Resend and the SMTP
// sent-log; it returns the directory to read the emails from.
func (w *world) maildirApp(t *testing.T, change ...func(*application.Deps, *application.Settings)) (application.App, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mail")
	m, err := maildir.New(dir, "keyward <keys@keyward.example>", w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	change = append([]func(*application.Deps, *application.Settings){func(d *application.Deps, _ *application.Settings) { d.Mailer = m }}, change...)
	return w.app(change...), dir
}

// notifier is NotifyCustomer on maildirApp.
func (w *world) notifier(t *testing.T) (application.NotifyCustomer, string) {
	t.Helper()
	app, dir := w.maildirApp(t)
	return app.Commands.NotifyCustomer, dir
}

// TestPaymentConfirmationOutgrownOnceFulfilled: an order already
// fulfilled (its keys email on its way) gets no payment confirmation.
func TestPaymentConfirmationOutgrownOnceFulfilled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fulfilled := w.fulfilledOrder(t)
	notify, dir := w.notifier(t)
	if err := notify.Handle(t.Context(), w.event(t, fulfilled.ID(), domain.EventOrderPaid)); err != nil {
		t.Fatal(err)
	}
	if ms := inbox(t, dir); len(ms) != 0 {
		t.Fatalf("a fulfilled order's payment confirmed by %q, want no email", ms[0].Subject)
	}
}

func inbox(t *testing.T, dir string) []maildir.Message {
	t.Helper()
	ms, err := maildir.ReadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestEachEventSendsOneEmailEvenWhenHandledTwice(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		event   string
		order   func(*world, *testing.T) *domain.Order
		subject string
		body    []string
	}{
		{"payment set up", domain.EventPaymentCreated, (*world).placedOrder, "received: how to pay", []string{"send exactly"}},
		{"order paid", domain.EventOrderPaid, func(w *world, t *testing.T) *domain.Order { return w.paidOrder(t, 1) }, "Payment confirmed", []string{"received your payment"}},
		{"fulfilment failed", domain.EventOrderFailed, (*world).failedOrder, "is delayed", []string{"refund"}},
		{"order revoked", domain.EventOrderRevoked, func(w *world, t *testing.T) *domain.Order {
			o := w.failedOrder(t)
			w.update(t, o.ID(), func(o *domain.Order) error { return o.Revoke("refunded", w.clock.Now()) })
			return o
		}, "has been revoked", []string{"no longer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			o := c.order(w, t)
			ev := domain.OrderEvent{Name: c.event, OrderID: o.ID(), At: w.clock.Now()}
			if c.event != domain.EventPaymentCreated {
				ev = w.event(t, o.ID(), c.event)
			}
			notify, dir := w.notifier(t)
			for range 2 {
				if err := notify.Handle(t.Context(), ev); err != nil {
					t.Fatal(err)
				}
			}
			ms := inbox(t, dir)
			if len(ms) != 1 {
				t.Fatalf("%d emails, want 1", len(ms))
			}
			m := ms[0]
			if m.To != "buyer@example.com" || !strings.Contains(m.Subject, c.subject) || !strings.Contains(m.Subject, o.ID()) {
				t.Errorf("email to %s, subject %q; want %q", m.To, m.Subject, c.subject)
			}
			for _, want := range c.body {
				if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
					t.Errorf("email lacks %q:\n%s", want, m.Text)
				}
			}
			if c.event == domain.EventOrderPlaced || c.event == domain.EventPaymentCreated {
				p := o.Payment()
				if !strings.Contains(m.Text, p.PayAddress) || !strings.Contains(m.Text, p.PayAmount.String()+" "+strings.ToUpper(p.PayCurrency)) {
					t.Errorf("no payment instructions (%s %s to %s):\n%s", p.PayAmount, p.PayCurrency, p.PayAddress, m.Text)
				}
			}
			// The same event again later (a redelivery) still sends nothing;
			// another occurrence of it is another email.
			if err := notify.Handle(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
			if n := len(inbox(t, dir)); n != 1 {
				t.Fatalf("%d emails after a redelivery, want 1", n)
			}
			again := ev
			again.At = ev.At.Add(time.Second)
			if err := notify.Handle(t.Context(), again); err != nil {
				t.Fatal(err)
			}
			want := 2
			if c.event == domain.EventOrderFailed {
				want = 1 // told of a delay once per order
			}
			if n := len(inbox(t, dir)); n != want {
				t.Fatalf("%d emails after a new occurrence of the event, want %d", n, want)
			}
		})
	}
}

func TestOutgrownEmailsAreNotSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	notify, dir := w.notifier(t)

	// Paid before the order.placed handler ran: no payment instructions.
	paid := w.paidOrder(t, 1)
	// Failed, then retried before the order.failed handler ran: no delay.
	retried := w.failedOrder(t)
	failedEv := w.event(t, retried.ID(), domain.EventOrderFailed)
	w.update(t, retried.ID(), func(o *domain.Order) error { return o.RetryFulfilment(w.clock.Now()) })

	for _, ev := range []domain.OrderEvent{
		w.event(t, paid.ID(), domain.EventOrderPlaced),
		failedEv,
		{Name: domain.EventOrderPlaced, OrderID: "no-such-order", At: w.clock.Now()},
		{Name: domain.EventOrderFulfilled, OrderID: paid.ID(), At: w.clock.Now()},                 // DeliverOrder's business
		{Name: domain.EventOrderPaid, OrderID: paid.ID(), At: w.clock.Now().Add(-25 * time.Hour)}, // history
	} {
		if err := notify.Handle(t.Context(), ev); err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
	}
	if ms := inbox(t, dir); len(ms) != 0 {
		t.Fatalf("%d emails, want none; first: %s", len(ms), ms[0].Subject)
	}
}

// An order placed while the gateway was down has no payment: order.placed
// sends nothing, and the order.payment_created that follows once the
// payment is set up sends the instructions.
func TestOrderWithoutPaymentWaitsForPaymentCreated(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	products, err := w.catalog.List(t.Context(), "", 1)
	if err != nil || len(products) == 0 {
		t.Fatalf("catalog: %v", err)
	}
	email, _ := domain.ParseEmail("buyer@example.com")
	o, err := domain.NewOrder("order-no-payment", email, domain.HashToken("t"), []domain.NewItem{{ID: "item-1", Product: products[0], Quantity: 1}}, w.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.orders.Create(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	notify, dir := w.notifier(t)
	if err := notify.Handle(t.Context(), domain.OrderEvent{Name: domain.EventOrderPlaced, OrderID: o.ID(), At: w.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if n := len(inbox(t, dir)); n != 0 {
		t.Fatalf("%d emails for an order without a payment, want 0", n)
	}
	w.update(t, o.ID(), func(o *domain.Order) error {
		return o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "p1", PayAddress: "bc1qlater", PayAmount: decimal.RequireFromString("0.0005"), PayCurrency: "btc"}, w.clock.Now())
	})
	if err := notify.Handle(t.Context(), domain.OrderEvent{Name: domain.EventPaymentCreated, OrderID: o.ID(), At: w.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	ms := inbox(t, dir)
	if len(ms) != 1 || !strings.Contains(ms[0].Text, "0.0005 BTC to this address:\n\nbc1qlater") {
		t.Fatalf("emails %+v, want one with the instructions", ms)
	}
}

type failingMailer struct{ err error }

func (f failingMailer) Send(context.Context, ports.Email) (ports.Receipt, error) {
	return ports.Receipt{}, f.err
}

func TestMailerErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	ev := w.event(t, o.ID(), domain.EventOrderPaid)
	cases := []struct {
		err         error
		unavailable bool
	}{
		{&ports.MailRetryError{After: 7 * time.Second, Reason: "rate_limit_exceeded"}, true},
		{errors.Join(ports.ErrMailUnavailable, errors.New("connection refused")), true},
		{errors.Join(ports.ErrMailRejected, errors.New("invalid_from_address")), false},
	}
	for _, c := range cases {
		app := w.app(func(d *application.Deps, _ *application.Settings) { d.Mailer = failingMailer{c.err} })
		err := app.Commands.NotifyCustomer.Handle(t.Context(), ev)
		if err == nil {
			t.Fatalf("%v: no error", c.err)
		}
		if errors.Is(err, application.ErrUnavailable) != c.unavailable || errors.Is(err, ports.ErrMailRejected) == c.unavailable {
			t.Errorf("%v: err = %v; want unavailable %v", c.err, err, c.unavailable)
		}
	}
}
