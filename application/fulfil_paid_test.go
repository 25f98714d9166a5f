package application_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// The subjects of the payment's confirmation and of the keys-ready email.
const subjectPaid, subjectReady = "Payment confirmed", "Your keys are ready"

// paidHandler is FulfilPaid on maildirApp.
func (w *world) paidHandler(t *testing.T, change ...func(*application.Deps, *application.Settings)) (application.FulfilPaid, string) {
	t.Helper()
	app, dir := w.maildirApp(t, change...)
	return app.Commands.FulfilPaid, dir
}

// wantDeliveredAfterConfirmation handles ev again and wants its order
// delivered, with one payment confirmation and one keys-ready email in
// dir, all told.
func (w *world) wantDeliveredAfterConfirmation(t *testing.T, h application.FulfilPaid, ev domain.OrderEvent, dir string) {
	t.Helper()
	if err := h.Handle(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, ev.OrderID); s != domain.StatusDelivered {
		t.Fatalf("order %s after handling order.paid again, want delivered", s)
	}
	if got := subjects(t, dir, subjectPaid, subjectReady); got[subjectPaid] != 1 || got[subjectReady] != 1 || len(got) != 2 {
		t.Fatalf("emails %v, want one confirmation and one keys-ready", got)
	}
}

// subjects counts the emails in dir by the first of want their subject
// contains ("other" for none).
func subjects(t *testing.T, dir string, want ...string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, m := range inbox(t, dir) {
		kind := "other"
		for _, w := range want {
			if strings.Contains(m.Subject, w) {
				kind = w
				break
			}
		}
		got[kind]++
	}
	return got
}

// TestFulfilPaidConfirmsThePaymentOfWhatItDidNotDeliver: the handling of
// order.paid fulfils the order and emails the payment's confirmation only
// when the keys did not go out in the same run: an order delivered at once
// gets its keys-ready email alone, also when the message is handled
// again; an order whose keys the supplier has yet to deliver gets the
// confirmation once, however often the message comes, and its keys-ready
// email when they arrive.
func TestFulfilPaidConfirmsThePaymentOfWhatItDidNotDeliver(t *testing.T) {
	t.Parallel()
	t.Run("delivered at once", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		o := w.paidOrder(t, 1)
		ev := w.event(t, o.ID(), domain.EventOrderPaid)
		h, dir := w.paidHandler(t)
		for range 2 { // the second: the message handled again
			if err := h.Handle(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
		}
		if s := w.status(t, o.ID()); s != domain.StatusDelivered {
			t.Fatalf("order %s, want delivered", s)
		}
		if got := subjects(t, dir, subjectPaid, subjectReady); got[subjectReady] != 1 || len(got) != 1 {
			t.Fatalf("emails %v, want the keys-ready one alone", got)
		}
	})
	t.Run("delivered at once, not read again", func(t *testing.T) {
		t.Parallel()
		// The run that delivered says so: the confirmation is not even
		// considered (NotifyCustomer would read the order to find it
		// outgrown), so the handling reads the order as often as the
		// fulfilment alone does.
		reads := func(handle func(application.App, domain.OrderEvent) error) int32 {
			w := newWorld(t)
			o := w.paidOrder(t, 1)
			counted := &countingOrders{OrderRepository: w.orders}
			app, _ := w.maildirApp(t, func(d *application.Deps, _ *application.Settings) { d.Orders = counted })
			if err := handle(app, w.event(t, o.ID(), domain.EventOrderPaid)); err != nil {
				t.Fatal(err)
			}
			if s := w.status(t, o.ID()); s != domain.StatusDelivered {
				t.Fatalf("order %s, want delivered", s)
			}
			return counted.gets.Load()
		}
		paidReads := reads(func(a application.App, ev domain.OrderEvent) error {
			return a.Commands.FulfilPaid.Handle(t.Context(), ev)
		})
		fulfilReads := reads(func(a application.App, ev domain.OrderEvent) error {
			return a.Commands.FulfilOrder.Handle(t.Context(), ev.OrderID)
		})
		if paidReads != fulfilReads {
			t.Fatalf("the order read %d times by FulfilPaid, %d by the fulfilment alone: a delivered run still considered the confirmation", paidReads, fulfilReads)
		}
	})
	t.Run("keys pending", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t)
		w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: time.Hour, Clock: func() time.Time { return w.clock.Now() }})
		o := w.paidOrder(t, 1)
		ev := w.event(t, o.ID(), domain.EventOrderPaid)
		h, dir := w.paidHandler(t)
		for range 2 {
			if err := h.Handle(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
		}
		if s := w.status(t, o.ID()); s != domain.StatusFulfilling {
			t.Fatalf("order %s, want fulfilling (keys pending)", s)
		}
		if got := subjects(t, dir, subjectPaid, subjectReady); got[subjectPaid] != 1 || len(got) != 1 {
			t.Fatalf("emails %v, want one payment confirmation", got)
		}
		w.clock.Advance(2 * time.Hour)
		w.wantDeliveredAfterConfirmation(t, h, ev, dir)
	})
}

// TestFulfilPaidConfirmsThePaymentOfARunThatFailed: a run that fails
// (the key vault down) still confirms the payment and returns its error
// to be retried; the retry that delivers sends the keys and no second
// confirmation.
func TestFulfilPaidConfirmsThePaymentOfARunThatFailed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	ev := w.event(t, o.ID(), domain.EventOrderPaid)
	h, dir := w.paidHandler(t)
	w.vault.down.Store(true)
	if err := h.Handle(t.Context(), ev); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want the fulfilment's ErrUnavailable", err)
	}
	if got := subjects(t, dir, subjectPaid, subjectReady); got[subjectPaid] != 1 || len(got) != 1 {
		t.Fatalf("emails %v after a failed run, want one payment confirmation", got)
	}
	w.vault.down.Store(false)
	w.wantDeliveredAfterConfirmation(t, h, ev, dir)
}

// TestFulfilPaidConfirmationFailures: a confirmation the mail service
// cannot take now is an error to retry; one it refuses for good is no
// error (retried, it would be refused again). Either way the fulfilment's
// work stands, and the message handled again, as the router's retry
// does, buys nothing twice.
func TestFulfilPaidConfirmationFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		mailErr   error
		retryable bool
	}{
		{"unavailable", fmt.Errorf("%w: 503", ports.ErrMailUnavailable), true},
		{"rejected", fmt.Errorf("%w: 422 invalid recipient", ports.ErrMailRejected), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: time.Hour, Clock: func() time.Time { return w.clock.Now() }})
			o := w.paidOrder(t, 1)
			ev := w.event(t, o.ID(), domain.EventOrderPaid)
			h := w.app(func(d *application.Deps, _ *application.Settings) { d.Mailer = failingMailer{tc.mailErr} }).Commands.FulfilPaid
			for try := range 2 {
				err := h.Handle(t.Context(), ev)
				if tc.retryable {
					if !errors.Is(err, application.ErrUnavailable) || application.ClassifyFailure(err) != application.FailureTransient {
						t.Fatalf("try %d: err = %v, want a transient error wrapping ErrUnavailable", try, err)
					}
				} else if err != nil {
					t.Fatalf("try %d: err = %v, want nil for a refused confirmation", try, err)
				}
			}
			if s := w.status(t, o.ID()); s != domain.StatusFulfilling {
				t.Fatalf("order %s, want fulfilling", s)
			}
			if n := w.supplier.PurchaseCount(o.Items()[0].ID()); n != 1 {
				t.Fatalf("%d purchases, want 1", n)
			}
		})
	}
}
