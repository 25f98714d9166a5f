package application_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// staged is a sandbox supplier whose purchases for some items (by the
// item id the purchase names) are pre-orders, each released on its own
// day by the test clock; an item marked never gets no keys at all.
type staged struct {
	*sandbox.Supplier
	mu      sync.Mutex
	release map[string]time.Time
	never   map[string]bool
	now     func() time.Time
}

func (s *staged) set(itemID string, day time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release[itemID] = day
}

func (s *staged) withhold(itemID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.never[itemID] = true
}

func (s *staged) Keys(ctx context.Context, id string) ([]ports.SupplierKey, error) {
	o, err := s.Supplier.Order(ctx, id)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	day, pre := s.release[o.ExternalID]
	never := s.never[o.ExternalID]
	s.mu.Unlock()
	if pre && (never || s.now().Before(day)) {
		return nil, &ports.ReleasePendingError{ReleaseDate: day, Detail: "staged pre-order"}
	}
	return s.Supplier.Keys(ctx, id)
}

// stagedWorld returns a world buying from a staged supplier and a maker of
// its app: each call is a new process (a restart: the poll schedule is
// lost), sharing the world's storage.
func stagedWorld(t *testing.T) (*world, *staged, func() application.App) {
	t.Helper()
	w := newWorld(t)
	sup := &staged{Supplier: w.supplier, release: map[string]time.Time{}, never: map[string]bool{}, now: w.clock.Now}
	return w, sup, func() application.App {
		return w.app(func(d *application.Deps, s *application.Settings) {
			d.Suppliers = ports.Suppliers{{Supplier: sup}}
			s.Operations = application.OperationsPolicy{GiveUpAfter: 30 * time.Minute, DeliverySLO: 10 * time.Minute}
		})
	}
}

// placePaid places and pays an order for one key of each sku.
func (w *world) placePaid(t *testing.T, app application.App, skus ...string) *domain.Order {
	t.Helper()
	var lines []application.PlaceOrderLine
	for _, sku := range skus {
		lines = append(lines, application.PlaceOrderLine{SKU: sku, Quantity: 1})
	}
	placed, err := app.Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com", Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	p := placed.Order.Payment()
	o, err := w.orders.Update(t.Context(), placed.Order.ID(), func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (w *world) itemStatus(t *testing.T, orderID, itemID string) domain.ItemStatus {
	t.Helper()
	o, err := w.orders.Get(t.Context(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	it, err := o.Item(itemID)
	if err != nil {
		t.Fatal(err)
	}
	return it.Status()
}

// TestPreorderTwoReleaseDatesAfterRestart: two pre-orders in one order,
// released 10 and 40 days on, and a restart that loses the poll schedule.
// The reconciler leaves the order alone before the first release and
// resumes it once that day has passed (the first item's keys are sealed,
// the second still waits); the sweep holds an order whose first release
// brought no keys once that release plus the grace has passed, not 30
// days later.
func TestPreorderTwoReleaseDatesAfterRestart(t *testing.T) {
	t.Parallel()
	w, sup, process := stagedWorld(t)
	app := process()
	released := w.placePaid(t, app, "elden-ring-steam-global", "windows-11-pro-oem-global")
	withheld := w.placePaid(t, app, "elden-ring-steam-global", "windows-11-pro-oem-global")
	dayA := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 10))
	dayB := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 40))
	for _, o := range []*domain.Order{released, withheld} {
		sup.set(o.Items()[0].ID(), dayA)
		sup.set(o.Items()[1].ID(), dayB)
		if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
		for _, it := range o.Items() {
			if st := w.itemStatus(t, o.ID(), it.ID()); st != domain.ItemAwaitingRelease {
				t.Fatalf("item %s is %s, want awaiting_release", it.ID(), st)
			}
		}
	}
	sup.withhold(withheld.Items()[0].ID())

	restarted := process()
	w.clock.Set(dayA.Add(-time.Minute))
	if res, err := restarted.Commands.Reconcile.Handle(t.Context()); err != nil || res.Resumed != 0 {
		t.Fatalf("reconcile before the first release: %+v, %v", res, err)
	}
	w.clock.Set(dayA.Add(time.Hour))
	if res, err := restarted.Commands.Reconcile.Handle(t.Context()); err != nil || res.Resumed != 2 {
		t.Fatalf("reconcile an hour after the first release: %+v, %v; want both orders resumed", res, err)
	}
	if st := w.itemStatus(t, released.ID(), released.Items()[0].ID()); st != domain.ItemSealed {
		t.Errorf("first item released an hour ago, its keys out: %s after the reconciler's pass", st)
	}
	if st := w.itemStatus(t, released.ID(), released.Items()[1].ID()); st != domain.ItemAwaitingRelease {
		t.Errorf("second item %s, want awaiting_release", st)
	}

	w.clock.Set(dayA.Add(application.DefaultPreorderGrace - time.Minute))
	if res, err := restarted.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 0 {
		t.Fatalf("sweep within the first release's grace: %+v, %v", res, err)
	}
	w.clock.Set(dayA.Add(application.DefaultPreorderGrace + time.Minute))
	if res, err := restarted.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 1 {
		t.Fatalf("sweep after the first release's grace: %+v, %v; want the withheld order held", res, err)
	}
	if st := w.status(t, withheld.ID()); st != domain.StatusNeedsReview {
		t.Errorf("order whose first release brought no keys is %s, want needs_review", st)
	}
	if st := w.status(t, released.ID()); st != domain.StatusFulfilling {
		t.Errorf("order whose first item was delivered is %s, want fulfilling until %s", st, dayB.Format(domain.DateLayout))
	}
}
