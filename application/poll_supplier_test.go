package application_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
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
	if got := w.status(t, o.ID()); got != domain.StatusDelivered {
		t.Fatalf("order is %s after the look, want delivered", got)
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

// getFails makes Get of every order fail with the error stored, if any.
type getFails struct {
	ports.OrderRepository
	err atomic.Pointer[error]
}

func (r *getFails) Get(ctx context.Context, id string) (*domain.Order, error) {
	if e := r.err.Load(); e != nil {
		return nil, *e
	}
	return r.OrderRepository.Get(ctx, id)
}

// TestPollSupplierGivesUpToTheReconciler: an order gone from the store is
// dropped at its first look; one whose looks keep failing is dropped
// after five in a row. The reconciler, which resumes both, does not feed
// the schedule itself.
func TestPollSupplierGivesUpToTheReconciler(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		err   error
		looks int
	}{
		"gone":    {domain.ErrNotFound, 1},
		"failing": {errors.New("database down"), 5},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: 24 * time.Hour, Clock: func() time.Time { return w.clock.Now() }})
			orders := &getFails{OrderRepository: w.orders}
			app := w.app(func(d *application.Deps, _ *application.Settings) { d.Orders = orders })
			o := w.paidOrder(t, 1)
			if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
				t.Fatal(err)
			}
			poll := app.Commands.PollSupplier
			orders.err.Store(&c.err)
			for look := 1; look <= c.looks; look++ {
				if poll.Scheduled() != 1 {
					t.Fatalf("dropped before look %d, want after %d", look, c.looks)
				}
				w.clock.Advance(time.Hour)
				if n, _ := poll.Handle(t.Context()); n != 1 {
					t.Fatalf("look %d: %d orders looked at", look, n)
				}
			}
			if n := poll.Scheduled(); n != 0 {
				t.Fatalf("%d orders scheduled after %d failed looks, want none", n, c.looks)
			}
			// The reconciler resumes the order, still waiting, without
			// scheduling it again.
			orders.err.Store(nil)
			w.clock.Advance(time.Hour)
			if _, err := app.Commands.Reconcile.Handle(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := w.status(t, o.ID()); got != domain.StatusFulfilling || poll.Scheduled() != 0 {
				t.Fatalf("after the reconciler: order %s with %d scheduled, want fulfilling and none", got, poll.Scheduled())
			}
		})
	}
}

// meetingKeys, once armed, holds each Keys call until two are under way
// (or a few seconds pass), and records the most under way at once.
type meetingKeys struct {
	ports.Supplier
	armed          atomic.Bool
	inFlight, most atomic.Int32
	met            chan struct{}
	once           *sync.Once
}

func (s *meetingKeys) Keys(ctx context.Context, id string) ([]ports.SupplierKey, error) {
	if s.armed.Load() {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
		}
		if n >= 2 {
			s.once.Do(func() { close(s.met) })
		}
		select {
		case <-s.met:
		case <-time.After(5 * time.Second):
		case <-ctx.Done():
		}
	}
	return s.Supplier.Keys(ctx, id)
}

// TestPollSupplierLooksInParallel: two orders due together are looked at
// at the same time, not one after the other.
func TestPollSupplierLooksInParallel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: 24 * time.Hour, Clock: func() time.Time { return w.clock.Now() }})
	keys := &meetingKeys{Supplier: w.supplier, met: make(chan struct{}), once: &sync.Once{}}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Suppliers = ports.Suppliers{{Supplier: keys}} })
	for range 2 {
		o := w.paidOrder(t, 1)
		if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
	}
	keys.armed.Store(true)
	w.clock.Advance(time.Minute)
	if n, err := app.Commands.PollSupplier.Handle(t.Context()); n != 2 || err != nil {
		t.Fatalf("%d looks (%v), want 2", n, err)
	}
	if m := keys.most.Load(); m != 2 {
		t.Fatalf("at most %d looks at once, want 2", m)
	}
}
