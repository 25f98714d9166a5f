package application_test

import (
	"context"
	"strings"
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

// preorderedEvents returns the order's order.preordered events, oldest first.
func (w *world) preorderedEvents(orderID string) []domain.OrderEvent {
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	var out []domain.OrderEvent
	for _, ev := range w.events.events {
		if oe, ok := ev.(domain.OrderEvent); ok && oe.OrderID == orderID && oe.Name == domain.EventOrderPreordered {
			out = append(out, oe)
		}
	}
	return out
}

// TestPreorderMovedReleaseDate: the supplier moves a pre-order's release
// date. The poll's daily look before the release finds it: the item takes
// the new date, and the order emits order.preordered again (once per
// change) with it, so the shop's webhook carries the new release_date and
// the customer gets one more email naming it (the same event handled
// again sends none); each change is audited. A date brought forward is
// found too, also after a restart (the reconciler hands the order to the
// new process's poll), and the keys are delivered on the new day, not the
// old one.
func TestPreorderMovedReleaseDate(t *testing.T) {
	t.Parallel()
	w, sup, process := stagedWorld(t)
	app := process()
	o := w.placePaid(t, app, "elden-ring-steam-global")
	item := o.Items()[0].ID()
	first := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 10))
	later := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 30))
	sooner := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 5))
	sup.set(item, first)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	notify, dir := w.notifier(t)
	tell := func(ev domain.OrderEvent) {
		t.Helper()
		if err := notify.Handle(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	tell(w.preorderedEvents(o.ID())[0])

	// Moved later: found by the next day's look.
	sup.set(item, later)
	poll := app.Commands.PollSupplier
	w.clock.Advance(time.Hour)
	if n, err := poll.Handle(t.Context()); n != 0 || err != nil {
		t.Fatalf("an hour on: %d looks (%v), want none", n, err)
	}
	w.clock.Advance(24 * time.Hour)
	if n, err := poll.Handle(t.Context()); n != 1 || err != nil {
		t.Fatalf("a day on: %d looks (%v), want the daily one", n, err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if it, _ := got.Item(item); it.Status() != domain.ItemAwaitingRelease || !it.ReleaseDate().Equal(later) {
		t.Fatalf("item %s until %v, want awaiting_release until %v", it.Status(), it.ReleaseDate(), later)
	}
	evs := w.preorderedEvents(o.ID())
	if len(evs) != 2 {
		t.Fatalf("%d order.preordered events after the date moved, want 2", len(evs))
	}
	hook, ok, err := domain.WebhookEventFor("evt-moved", evs[1])
	if err != nil || !ok || !strings.Contains(string(hook.Body), `"release_date":"`+later.Format(domain.DateLayout)+`"`) {
		t.Errorf("webhook for the moved date: %s (%v, %v), want release_date %s", hook.Body, ok, err, later.Format(domain.DateLayout))
	}
	tell(evs[1])
	tell(evs[1]) // the same event again
	ms := inbox(t, dir)
	if len(ms) != 2 || !strings.Contains(ms[1].Text+ms[0].Text, "released on "+later.Format(domain.DateLayout)) {
		t.Fatalf("%d emails, want the first and one naming %s", len(ms), later.Format(domain.DateLayout))
	}
	recs := w.auditActions(t, application.AuditOrderPreordered, o.ID())
	if len(recs) != 2 || recs[1].Details["release_date"] != later.Format(domain.DateLayout) {
		t.Errorf("audit records %+v, want the wait and the moved date", recs)
	}
	w.clock.Advance(24 * time.Hour)
	if n, err := poll.Handle(t.Context()); n != 1 || err != nil || len(w.preorderedEvents(o.ID())) != 2 {
		t.Fatalf("the next day's look (same date): %d looks (%v), %d events; want 1 look, no new event", n, err, len(w.preorderedEvents(o.ID())))
	}

	// Brought forward, then a restart: the reconciler hands the order to
	// the new process's poll, whose daily look finds the new date.
	sup.set(item, sooner)
	restarted := process()
	if res, err := restarted.Commands.Reconcile.Handle(t.Context()); err != nil || res.Resumed != 0 {
		t.Fatalf("reconcile before the release: %+v, %v", res, err)
	}
	w.clock.Advance(24 * time.Hour)
	if n, err := restarted.Commands.PollSupplier.Handle(t.Context()); n != 1 || err != nil {
		t.Fatalf("the restarted poll's daily look: %d looks (%v)", n, err)
	}
	if evs := w.preorderedEvents(o.ID()); len(evs) != 3 || !strings.HasSuffix(evs[2].Reason, sooner.Format(domain.DateLayout)) {
		t.Fatalf("order.preordered events %+v, want a third with %s", evs, sooner.Format(domain.DateLayout))
	}
	w.clock.Set(sooner)
	if n, err := restarted.Commands.PollSupplier.Handle(t.Context()); n != 1 || err != nil {
		t.Fatalf("on the new release day: %d looks (%v)", n, err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Errorf("order %s on its new release day, want delivered", st)
	}
}

// flaggedPreorder is a sandbox supplier that keeps calling its pre-order
// one after the release, as a supplier may, and names no date for it
// while noDate is set.
type flaggedPreorder struct {
	*sandbox.Supplier
	noDate bool
}

func (s *flaggedPreorder) flag(p ports.SupplierProduct) ports.SupplierProduct {
	if p.ID == sandbox.PreorderProductID {
		p.Preorder = true
		if s.noDate {
			p.ReleaseDate = time.Time{}
		}
	}
	return p
}

func (s *flaggedPreorder) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	l, err := s.Supplier.Products(ctx, q)
	for i := range l.Products {
		l.Products[i] = s.flag(l.Products[i])
	}
	return l, err
}

func (s *flaggedPreorder) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	p, err := s.Supplier.Product(ctx, id)
	return s.flag(p), err
}

// TestPreorderListedUntilItsRelease: a product the supplier flags as a
// pre-order is listed as one while its release date is to come, or while
// the supplier names no date; from its release day on it is listed as
// released (no preorder, no release_date), whatever the flag says.
func TestPreorderListedUntilItsRelease(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	release := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 10))
	sup := &flaggedPreorder{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{Clock: w.clock.Now, PreorderRelease: release})}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Suppliers = ports.Suppliers{{Supplier: sup}} })
	listed := func(when string, preorder bool, day time.Time) {
		t.Helper()
		if _, err := app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{}); err != nil {
			t.Fatal(err)
		}
		p, err := w.catalog.Get(t.Context(), sandbox.PreorderProductID)
		if err != nil || p.Preorder() != preorder || !p.ReleaseDate().Equal(day) {
			t.Fatalf("%s: listed with preorder %t, release %v (%v); want %t, %v", when, p.Preorder(), p.ReleaseDate(), err, preorder, day)
		}
	}
	listed("before the release", true, release)
	w.clock.Set(release.Add(-time.Second))
	listed("a second before the release day", true, release)
	w.clock.Set(release)
	listed("on the release day", false, time.Time{})
	sup.noDate = true
	listed("flagged with no date", true, time.Time{})
}

// TestPreorderWithoutASupplierDate: the supplier says an item is a
// pre-order but names no release date. When the product is listed with
// one, the item waits for that day. When nobody names one, the item
// still waits as a pre-order (awaiting_release, no date; the customer is
// told the date is not announced yet), is neither held for review after
// the give-up time nor resumed by the reconciler before
// UndatedPreorderHorizon, and is held once that horizon and the grace
// have passed.
func TestPreorderWithoutASupplierDate(t *testing.T) {
	t.Parallel()
	w, listed := preorderWorld(t)
	sup := unreleased{Supplier: w.supplier} // a pre-order, no date named
	app := w.app(func(d *application.Deps, s *application.Settings) {
		d.Suppliers = ports.Suppliers{{Supplier: sup}}
		s.Operations = application.OperationsPolicy{GiveUpAfter: 30 * time.Minute, DeliverySLO: 10 * time.Minute}
	})
	fromCatalog := w.paidPreorder(t, app)
	undated := w.placePaid(t, app, "elden-ring-steam-global")
	for _, o := range []*domain.Order{fromCatalog, undated} {
		if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := w.orders.Get(t.Context(), fromCatalog.ID())
	if it := got.Items()[0]; it.Status() != domain.ItemAwaitingRelease || !it.ReleaseDate().Equal(listed) {
		t.Errorf("the listed pre-order: %s until %v, want awaiting_release until its listed %v", it.Status(), it.ReleaseDate(), listed)
	}
	got, _ = w.orders.Get(t.Context(), undated.ID())
	if it := got.Items()[0]; it.Status() != domain.ItemAwaitingRelease || !it.ReleaseDate().IsZero() {
		t.Fatalf("the undated pre-order: %s until %v, want awaiting_release with no date", it.Status(), it.ReleaseDate())
	}
	waitingSince := w.clock.Now()
	notify, dir := w.notifier(t)
	if err := notify.Handle(t.Context(), w.event(t, undated.ID(), domain.EventOrderPreordered)); err != nil {
		t.Fatal(err)
	}
	if ms := inbox(t, dir); len(ms) != 1 || !strings.Contains(ms[0].Text, "release date is not announced yet") || strings.Contains(ms[0].Text, "0001") {
		t.Errorf("%d emails %+v, want one saying the date is not announced", len(ms), ms)
	}

	w.clock.Advance(time.Hour)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 0 {
		t.Fatalf("sweep an hour on, past the give-up time: %+v, %v; want nothing held", res, err)
	}
	w.clock.Set(listed.Add(-time.Hour))
	if res, err := app.Commands.Reconcile.Handle(t.Context()); err != nil || res.Resumed != 0 {
		t.Fatalf("reconcile before the listed release: %+v, %v; want neither resumed", res, err)
	}
	w.clock.Set(waitingSince.Add(application.UndatedPreorderHorizon - time.Hour))
	if res, err := app.Commands.Reconcile.Handle(t.Context()); err != nil || res.Resumed != 1 {
		t.Fatalf("reconcile before the horizon: %+v, %v; want only the listed one, released, resumed", res, err)
	}
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 1 {
		t.Fatalf("sweep long after the listed release: %+v, %v; want that one held", res, err)
	}
	w.clock.Set(waitingSince.Add(application.UndatedPreorderHorizon + application.DefaultPreorderGrace))
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 1 {
		t.Fatalf("sweep after the horizon and the grace: %+v, %v; want the undated one held", res, err)
	}
	got, _ = w.orders.Get(t.Context(), undated.ID())
	if got.Status() != domain.StatusNeedsReview || !strings.Contains(got.ReviewReason(), "no release date") {
		t.Errorf("undated order %s (%q), want needs_review saying no release date was named", got.Status(), got.ReviewReason())
	}
}
