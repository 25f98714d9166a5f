package application_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/domain"
)

// TestPollSupplierDeliversKeysWithoutTheWebhook: keys the supplier has
// ready a second after the purchase are fetched at the first look, 5 s
// after fulfilment left the order waiting, with no webhook and no
// reconciler; then the order is no longer scheduled.
func TestPollSupplierDeliversKeysWithoutTheWebhook(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: time.Second, Clock: func() time.Time { return w.clock.Now() }})
	app := w.app()
	o := w.paidOrder(t, 1)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if got := w.status(t, o.ID()); got != domain.StatusFulfilling || app.Commands.PollSupplier.Scheduled() != 1 {
		t.Fatalf("order is %s with %d scheduled, want fulfilling and waiting for a look", got, app.Commands.PollSupplier.Scheduled())
	}
	start := w.clock.Now()
	for _, at := range []time.Duration{0, time.Second, 4999 * time.Millisecond} {
		w.clock.Set(start.Add(at))
		if n, err := app.Commands.PollSupplier.Handle(t.Context()); n != 0 || err != nil {
			t.Fatalf("at +%s: %d looks (%v), want none before 5 s", at, n, err)
		}
	}
	w.clock.Set(start.Add(5 * time.Second))
	if n, err := app.Commands.PollSupplier.Handle(t.Context()); n != 1 || err != nil {
		t.Fatalf("at +5s: %d looks (%v), want 1", n, err)
	}
	if got := w.status(t, o.ID()); got != domain.StatusFulfilled {
		t.Fatalf("order is %s after the look, want fulfilled", got)
	}
	if n := app.Commands.PollSupplier.Scheduled(); n != 0 {
		t.Fatalf("%d orders still scheduled", n)
	}
}

// TestPollSupplierBacksOff: while the keys stay pending the looks come 5 s,
// 15 s, 45 s, 2 min, then every 10 min apart.
func TestPollSupplierBacksOff(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: 24 * time.Hour, Clock: func() time.Time { return w.clock.Now() }})
	app := w.app()
	o := w.paidOrder(t, 1)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	poll := app.Commands.PollSupplier
	for i, gap := range []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second, 2 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		last := w.clock.Now()
		w.clock.Set(last.Add(gap - time.Millisecond))
		if n, _ := poll.Handle(t.Context()); n != 0 {
			t.Fatalf("look %d came before its %s wait", i+1, gap)
		}
		w.clock.Set(last.Add(gap))
		if n, _ := poll.Handle(t.Context()); n != 1 {
			t.Fatalf("look %d did not come after its %s wait", i+1, gap)
		}
		if got := w.status(t, o.ID()); got != domain.StatusFulfilling {
			t.Fatalf("order is %s, want still waiting", got)
		}
	}
}
