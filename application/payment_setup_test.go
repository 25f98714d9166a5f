package application_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/nowpayments/nowpaymentstest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

const (
	npKey       = "np-api-key-for-tests-0123"
	npIPNSecret = "test-ipn-secret" // the world's verifier secret
)

// npWorld is the world with the real NOWPayments gateway pointed at a fake
// of its API, and a notification log the test can read.
type npWorld struct {
	*world
	srv           *nowpaymentstest.Server
	notifications *memory.Notifications
	confirm       bool
}

func newNPWorld(t *testing.T) *npWorld {
	t.Helper()
	w := &npWorld{world: newWorld(t), srv: nowpaymentstest.New(t, npKey), notifications: memory.NewNotifications()}
	return w
}

func (w *npWorld) app(t *testing.T) application.App {
	t.Helper()
	g, err := nowpayments.NewGateway(nowpayments.GatewayConfig{APIURL: w.srv.URL, APIKey: npKey, PayCurrency: "btc",
		CallbackURL: "https://keys.example/v1/webhooks/nowpayments", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return w.world.app(func(d *application.Deps, s *application.Settings) {
		d.Gateway, d.Notifications = g, w.notifications
		s.ConfirmPayments = w.confirm
	})
}

// place orders the first in-stock product.
func (w *npWorld) place(t *testing.T) (application.PlacedOrder, error) {
	t.Helper()
	products, err := w.catalog.List(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range products {
		if p.InStock() {
			return w.app(t).Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{
				Email: "buyer@example.com", Lines: []application.PlaceOrderLine{{SKU: p.SKU(), Quantity: 1}}})
		}
	}
	t.Fatal("no product in stock")
	return application.PlacedOrder{}, nil
}

// ipn posts a signed IPN for the order's payment to the use case.
func (w *npWorld) ipn(t *testing.T, o *domain.Order, status string, paid decimal.Decimal, parent string) (application.PaymentNotificationResult, error) {
	t.Helper()
	return w.ipnBody(t, w.srv.IPN(o.Payment().PaymentID, status, paid, parent))
}

func (w *npWorld) ipnBody(t *testing.T, body []byte) (application.PaymentNotificationResult, error) {
	t.Helper()
	sig, err := nowpayments.Sign(npIPNSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	return w.app(t).Commands.HandlePayment.Handle(t.Context(), body, sig)
}

func (w *npWorld) order(t *testing.T, id string) *domain.Order {
	t.Helper()
	o, err := w.orders.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (w *npWorld) eventCount(orderID, name string) int {
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	n := 0
	for _, e := range w.events.events {
		if e.AggregateID() == orderID && e.EventName() == name {
			n++
		}
	}
	return n
}

// TestOrderPlacedWhileGatewayIsDown: the order is stored awaiting its
// payment setup; the retry fails while the gateway is down, succeeds once
// it is back (order.payment_created); later retries create nothing more;
// and a signed IPN then pays the order.
func TestOrderPlacedWhileGatewayIsDown(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	w.srv.SetDown(true)
	placed, err := w.place(t)
	if err != nil {
		t.Fatalf("placing an order while the gateway is down: %v", err)
	}
	id := placed.Order.ID()
	if o := w.order(t, id); o.Status() != domain.StatusAwaitingPaymentSetup || o.Payment().PaymentID != "" || placed.AccessToken == "" {
		t.Fatalf("stored order is %s with payment %q", o.Status(), o.Payment().PaymentID)
	}
	if w.eventCount(id, domain.EventOrderPlaced) != 1 || w.eventCount(id, domain.EventPaymentCreated) != 0 {
		t.Fatal("want order.placed and no order.payment_created yet")
	}

	// The retry the order.placed event starts fails while the gateway is down.
	if err := w.app(t).Commands.SetUpPayment.Handle(t.Context(), id); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("retry while down: %v", err)
	}
	if o := w.order(t, id); o.Status() != domain.StatusAwaitingPaymentSetup {
		t.Fatalf("after a failed retry the order is %s", o.Status())
	}

	// The gateway is back; the reconciler picks the order up once stale.
	w.srv.SetDown(false)
	w.clock.Advance(2 * time.Minute)
	res, err := w.app(t).Commands.Reconcile.Handle(t.Context())
	if err != nil || res.Resumed != 1 || res.Completed != 1 {
		t.Fatalf("reconcile: %+v %v", res, err)
	}
	o := w.order(t, id)
	issued := w.srv.Payments(id)
	if o.Status() != domain.StatusPendingPayment || len(issued) != 1 || o.Payment().PaymentID != issued[0].ID ||
		o.Payment().PayAddress != issued[0].PayAddress || !o.Payment().PayAmount.Equal(issued[0].PayAmount) {
		t.Fatalf("after the retry: %s %+v, issued %+v", o.Status(), o.Payment(), issued)
	}
	if issued[0].CallbackURL != "https://keys.example/v1/webhooks/nowpayments" || !issued[0].PriceAmount.Equal(o.Total().Amount()) ||
		issued[0].PriceCurrency != "eur" {
		t.Fatalf("payment asked for %+v", issued[0])
	}
	if w.eventCount(id, domain.EventPaymentCreated) != 1 {
		t.Fatal("no order.payment_created")
	}

	// A late retry (a redelivered message) creates nothing more.
	if err := w.app(t).Commands.SetUpPayment.Handle(t.Context(), id); err != nil || len(w.srv.Payments(id)) != 1 {
		t.Fatalf("late retry: %v, %d payments", err, len(w.srv.Payments(id)))
	}

	r, err := w.ipn(t, o, "finished", o.Payment().PayAmount, "")
	if err != nil || r.Status != domain.StatusPaid {
		t.Fatalf("IPN: %+v %v", r, err)
	}
	if w.eventCount(id, domain.EventOrderPaid) != 1 {
		t.Fatal("no order.paid")
	}
}

func TestPaymentRefusedAtOrderTime(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	w.srv.FailNext(nowpaymentstest.Fault{Status: 400, Body: string(nowpaymentstest.Payload("error-bad-request.json"))})
	if _, err := w.place(t); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("refused payment: %v", err)
	}
	if all, _ := w.orders.List(t.Context(), ports.OrderQuery{Limit: 10}); len(all) != 0 {
		t.Fatalf("%d orders stored", len(all))
	}
}

func TestPaymentRefusedOnRetryExpiresTheOrder(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	w.srv.SetDown(true)
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	w.srv.SetDown(false)
	w.srv.FailNext(nowpaymentstest.Fault{Status: 400, Body: string(nowpaymentstest.Payload("error-bad-request.json"))})
	if err := w.app(t).Commands.SetUpPayment.Handle(t.Context(), placed.Order.ID()); err != nil {
		t.Fatal(err)
	}
	if o := w.order(t, placed.Order.ID()); o.Status() != domain.StatusExpired {
		t.Fatalf("order is %s", o.Status())
	}
}

// TestRepeatDepositNeverFulfilsTwice: a second deposit to a paid order's
// address is recorded against that order, repeatedly delivered or not, and
// never pays it again.
func TestRepeatDepositNeverFulfilsTwice(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	if r, err := w.ipn(t, o, "finished", o.Payment().PayAmount, ""); err != nil || r.Status != domain.StatusPaid {
		t.Fatalf("first payment: %+v %v", r, err)
	}
	repeat := w.srv.IPN(o.Payment().PaymentID, "finished", o.Payment().PayAmount, o.Payment().PaymentID)
	for i := range 2 {
		r, err := w.ipnBody(t, repeat)
		if err != nil || r.Status != domain.StatusPaid || r.Duplicate != (i == 1) {
			t.Fatalf("repeat deposit %d: %+v %v", i, r, err)
		}
	}
	if n := w.eventCount(o.ID(), domain.EventOrderPaid); n != 1 {
		t.Fatalf("order.paid %d times", n)
	}
	got := w.order(t, o.ID())
	n := 0
	for _, e := range got.Timeline() {
		if e.Kind() == domain.EventKindRepeatDeposit {
			n++
		}
	}
	if n != 1 || got.Payment().PaymentID != o.Payment().PaymentID || w.notifications.Count() != 2 {
		t.Fatalf("%d repeat deposit entries, payment %s, %d notifications", n, got.Payment().PaymentID, w.notifications.Count())
	}
}

// failingOrderUpdates is an order repository whose next Update fails, as
// a dropped database connection does, while fail is set.
type failingOrderUpdates struct {
	ports.OrderRepository
	fail *atomic.Bool
}

func (r failingOrderUpdates) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	if r.fail.CompareAndSwap(true, false) {
		return nil, errors.New("driver: bad connection")
	}
	return r.OrderRepository.Update(ctx, id, fn)
}

// TestRepeatDepositAppliedOnRetryAfterTransientFailure: when applying a
// repeat deposit's IPN fails for a reason that is not the order's (the
// database connection dropped), the failure is returned and nothing is
// stored, so the gateway's retry is applied: the order records the repeat
// deposit once, and the notification is stored and audited once.
func TestRepeatDepositAppliedOnRetryAfterTransientFailure(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	if r, err := w.ipn(t, o, "finished", o.Payment().PayAmount, ""); err != nil || r.Status != domain.StatusPaid {
		t.Fatalf("first payment: %+v %v", r, err)
	}
	fail := &atomic.Bool{}
	fail.Store(true)
	app := w.world.app(func(d *application.Deps, _ *application.Settings) {
		d.Notifications = w.notifications
		d.Orders = failingOrderUpdates{d.Orders, fail}
	})
	repeat := w.srv.IPN(o.Payment().PaymentID, "finished", o.Payment().PayAmount, o.Payment().PaymentID)
	sig, err := nowpayments.Sign(npIPNSecret, repeat)
	if err != nil {
		t.Fatal(err)
	}
	r, err := app.Commands.HandlePayment.Handle(t.Context(), repeat, sig)
	if err == nil || r.Changed || r.Duplicate || fail.Load() {
		t.Fatalf("IPN while the database fails: %+v %v", r, err)
	}
	if n := w.notifications.Count(); n != 1 {
		t.Fatalf("%d notifications stored after the failed attempt, want only the first payment's", n)
	}
	r, err = app.Commands.HandlePayment.Handle(t.Context(), repeat, sig)
	if err != nil || r.Duplicate || !r.Changed || r.Status != domain.StatusPaid {
		t.Fatalf("gateway's retry: %+v %v", r, err)
	}
	got := w.order(t, o.ID())
	deposits := 0
	for _, e := range got.Timeline() {
		if e.Kind() == domain.EventKindRepeatDeposit {
			deposits++
		}
	}
	if deposits != 1 || got.Status() != domain.StatusPaid || got.Payment().PaymentID != o.Payment().PaymentID {
		t.Fatalf("after the retry: %d repeat deposit entries, order %s, payment %s", deposits, got.Status(), got.Payment().PaymentID)
	}
	if n := w.eventCount(o.ID(), domain.EventOrderPaid); n != 1 {
		t.Fatalf("order.paid %d times", n)
	}
	records, err := w.audit.List(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, rec := range records {
		if rec.Action == application.AuditPaymentNotification && rec.Details["parent_payment_id"] != "" {
			audited++
		}
	}
	if n := w.notifications.Count(); n != 2 || audited != 1 {
		t.Fatalf("%d notifications stored (want 2), repeat deposit audited %d times (want 1)", n, audited)
	}
}

// TestUnknownPaymentStatusIsRecordedAndIgnored.
func TestUnknownPaymentStatusIsRecordedAndIgnored(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	r, err := w.ipn(t, o, "wrong_asset_confirmed", o.Payment().PayAmount, "")
	if err != nil || !r.Ignored || r.Changed {
		t.Fatalf("unknown status: %+v %v", r, err)
	}
	if got := w.order(t, o.ID()); got.Status() != domain.StatusPendingPayment || len(got.Timeline()) != len(o.Timeline()) {
		t.Fatalf("order moved to %s", got.Status())
	}
	if w.notifications.Count() != 1 {
		t.Fatalf("%d notifications recorded", w.notifications.Count())
	}
}

// TestConfirmFinishedPayment: with confirmation on, a finished IPN moves the
// order only when the gateway, asked again, says finished too.
func TestConfirmFinishedPayment(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	w.confirm = true
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	pay := o.Payment()
	body := w.srv.IPN(pay.PaymentID, "finished", pay.PayAmount, "")

	// The gateway still says waiting.
	r, err := w.ipnBody(t, body)
	if err != nil || !r.Ignored || r.Status != domain.StatusPendingPayment {
		t.Fatalf("unconfirmed finished: %+v %v", r, err)
	}
	if w.notifications.Count() != 1 || w.order(t, o.ID()).Status() != domain.StatusPendingPayment {
		t.Fatal("the IPN was not recorded, or the order moved")
	}

	// The gateway cannot be asked: the sender is told to try again.
	w.srv.SetDown(true)
	if _, err := w.ipnBody(t, body); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("confirmation while the gateway is down: %v", err)
	}
	w.srv.SetDown(false)
	// NOWPayments wants an answer within 3 s: a slow gateway is not waited for.
	// (The handler gives up after its 2 s; the bound leaves a loaded
	// machine room, and stays short of the gateway's hang.)
	w.srv.FailNext(nowpaymentstest.Fault{Hang: 20 * time.Second})
	began := time.Now()
	if _, err := w.ipnBody(t, body); !errors.Is(err, application.ErrUnavailable) || time.Since(began) > 10*time.Second {
		t.Fatalf("confirmation against a hanging gateway: %v after %s", err, time.Since(began))
	}

	// The gateway agrees: the same IPN, sent again, pays the order.
	w.srv.SetStatus(pay.PaymentID, "finished", pay.PayAmount)
	r, err = w.ipnBody(t, body)
	if err != nil || !r.Duplicate || r.Status != domain.StatusPaid {
		t.Fatalf("confirmed finished: %+v %v", r, err)
	}
}

// TestConfirmUsesTheGatewaysAmounts: the gateway's own amounts decide, not
// the notification's.
func TestConfirmUsesTheGatewaysAmounts(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	w.confirm = true
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	pay := placed.Order.Payment()
	w.srv.SetStatus(pay.PaymentID, "finished", pay.PayAmount.Div(decimal.NewFromInt(2)))
	r, err := w.ipn(t, placed.Order, "finished", pay.PayAmount, "")
	if err != nil || r.Status != domain.StatusUnderpaid {
		t.Fatalf("IPN claims full payment, gateway half: %+v %v", r, err)
	}
}
