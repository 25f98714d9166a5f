package application_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// paidHandler is FulfilPaid on a maildir mailer (which, like Resend and
// the SMTP sent-log, sends an idempotency key once); it returns the
// directory to read the emails from.
func (w *world) paidHandler(t *testing.T) (application.FulfilPaid, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mail")
	m, err := maildir.New(dir, "keyward <keys@keyward.example>", w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return w.app(func(d *application.Deps, _ *application.Settings) { d.Mailer = m }).Commands.FulfilPaid, dir
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
	const paid, ready = "Payment confirmed", "Your keys are ready"
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
		if got := subjects(t, dir, paid, ready); got[ready] != 1 || len(got) != 1 {
			t.Fatalf("emails %v, want the keys-ready one alone", got)
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
		if got := subjects(t, dir, paid, ready); got[paid] != 1 || len(got) != 1 {
			t.Fatalf("emails %v, want one payment confirmation", got)
		}
		w.clock.Advance(2 * time.Hour)
		if err := h.Handle(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		if s := w.status(t, o.ID()); s != domain.StatusDelivered {
			t.Fatalf("order %s once the keys came, want delivered", s)
		}
		if got := subjects(t, dir, paid, ready); got[paid] != 1 || got[ready] != 1 || len(got) != 2 {
			t.Fatalf("emails %v, want one confirmation and one keys-ready", got)
		}
	})
}

// TestFulfilPaidConfirmsThePaymentOfARunThatFailed: a run that fails
// (the key vault down) still confirms the payment and returns its error
// to be retried; the retry that delivers sends the keys and no second
// confirmation. An order already fulfilled (its keys email on its way)
// gets no confirmation.
func TestFulfilPaidConfirmsThePaymentOfARunThatFailed(t *testing.T) {
	t.Parallel()
	const paid, ready = "Payment confirmed", "Your keys are ready"
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	ev := w.event(t, o.ID(), domain.EventOrderPaid)
	h, dir := w.paidHandler(t)
	w.vault.down.Store(true)
	if err := h.Handle(t.Context(), ev); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want the fulfilment's ErrUnavailable", err)
	}
	if got := subjects(t, dir, paid, ready); got[paid] != 1 || len(got) != 1 {
		t.Fatalf("emails %v after a failed run, want one payment confirmation", got)
	}
	w.vault.down.Store(false)
	if err := h.Handle(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusDelivered {
		t.Fatalf("order %s after the retry, want delivered", s)
	}
	if got := subjects(t, dir, paid, ready); got[paid] != 1 || got[ready] != 1 || len(got) != 2 {
		t.Fatalf("emails %v, want one confirmation and one keys-ready", got)
	}

	fulfilled := w.fulfilledOrder(t)
	notify, dir := w.notifier(t)
	if err := notify.Handle(t.Context(), w.event(t, fulfilled.ID(), domain.EventOrderPaid)); err != nil {
		t.Fatal(err)
	}
	if ms := inbox(t, dir); len(ms) != 0 {
		t.Fatalf("a fulfilled order's payment confirmed by %q, want no email", ms[0].Subject)
	}
}

// refusingMailer fails every email with err.
type refusingMailer struct{ err error }

func (m refusingMailer) Send(context.Context, ports.Email) (ports.Receipt, error) {
	return ports.Receipt{}, m.err
}

// TestFulfilPaidConfirmationFailures: a confirmation the mail service
// cannot take now is an error to retry; one it refuses for good is no
// error, so that it never holds a paid order for review. Either way the
// fulfilment's work stands.
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
			h := w.app(func(d *application.Deps, _ *application.Settings) { d.Mailer = refusingMailer{tc.mailErr} }).Commands.FulfilPaid
			err := h.Handle(t.Context(), ev)
			if tc.retryable {
				if !errors.Is(err, application.ErrUnavailable) || application.ClassifyFailure(err) != application.FailureTransient {
					t.Fatalf("err = %v, want a transient error wrapping ErrUnavailable", err)
				}
			} else if err != nil {
				t.Fatalf("err = %v, want nil for a refused confirmation", err)
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
