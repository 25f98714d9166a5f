package application_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// preorderWorld is a world whose sandbox supplier runs on the test clock,
// its pre-order released release (10 days on), the catalog synced from it.
func preorderWorld(t *testing.T) (*world, time.Time) {
	t.Helper()
	w := newWorld(t)
	release := domain.ReleaseDay(w.clock.Now().AddDate(0, 0, 10))
	w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{Clock: w.clock.Now, PreorderRelease: release})
	if _, err := w.app().Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{}); err != nil {
		t.Fatal(err)
	}
	return w, release
}

// paidPreorder places and pays an order for one key of the sandbox's
// pre-order (and, with more, one of another product too).
func (w *world) paidPreorder(t *testing.T, app application.App, more ...string) *domain.Order {
	t.Helper()
	lines := []application.PlaceOrderLine{{SKU: sandbox.PreorderProductID, Quantity: 1}}
	for _, sku := range more {
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

func (w *world) auditActions(t *testing.T, action, subject string) []domain.AuditRecord {
	t.Helper()
	recs, err := w.audit.List(t.Context(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []domain.AuditRecord
	for _, r := range recs {
		if r.Action == action && r.Subject == subject {
			out = append(out, r)
		}
	}
	return out
}

// TestPreorderWaitsForItsReleaseThenDelivers: the sandbox's pre-order is
// listed as one with its release date; an order for it is paid and bought
// alone, then waits as awaiting_release (order.preordered, audited once,
// the customer emailed the date) with the order fulfilling; before the
// release the poll looks only once a day (nothing written, nothing told
// again), the sweep does not hold it nor the reconciler resume it; on
// release day the poll's look seals and delivers the keys as usual.
func TestPreorderWaitsForItsReleaseThenDelivers(t *testing.T) {
	t.Parallel()
	w, release := preorderWorld(t)
	var late []string
	app := sweepApp(w, &late)
	p, err := w.catalog.Get(t.Context(), sandbox.PreorderProductID)
	if err != nil || !p.Preorder() || !p.ReleaseDate().Equal(release) {
		t.Fatalf("listed pre-order: %v, err %v", p, err)
	}
	o := w.paidPreorder(t, app, "elden-ring-steam-global")
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	pre, other := got.Items()[0], got.Items()[1]
	if got.Status() != domain.StatusFulfilling || pre.Status() != domain.ItemAwaitingRelease || !pre.ReleaseDate().Equal(release) || other.Status() != domain.ItemSealed {
		t.Fatalf("order %s, pre-order %s until %v, other item %s", got.Status(), pre.Status(), pre.ReleaseDate(), other.Status())
	}
	// Each item is a supplier order of its own: the pre-order alone.
	if w.supplier.PurchaseCount(pre.ID()) != 1 || w.supplier.PurchaseCount(other.ID()) != 1 || pre.SupplierOrderID() == other.SupplierOrderID() {
		t.Errorf("purchases: pre-order %d, other %d", w.supplier.PurchaseCount(pre.ID()), w.supplier.PurchaseCount(other.ID()))
	}
	ev := w.event(t, o.ID(), domain.EventOrderPreordered)
	if recs := w.auditActions(t, application.AuditOrderPreordered, o.ID()); len(recs) != 1 ||
		recs[0].Details["release_date"] != release.Format(domain.DateLayout) || recs[0].Details["item_id"] != pre.ID() {
		t.Fatalf("audit records %+v", recs)
	}
	notify, dir := w.notifier(t)
	for range 2 {
		if err := notify.Handle(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	ms := inbox(t, dir)
	if len(ms) != 1 || !strings.Contains(ms[0].Text, "Starfall Odyssey (Pre-order) is a pre-order: it is released on "+release.Format(domain.DateLayout)) {
		t.Fatalf("%d emails: %+v", len(ms), ms)
	}

	poll := app.Commands.PollSupplier
	if poll.Scheduled() != 1 {
		t.Fatalf("%d orders scheduled", poll.Scheduled())
	}
	// Before the release the poll looks once a day (the date may move),
	// not on the backoff; a look that finds the same date changes nothing.
	for _, step := range []struct {
		at    time.Time
		looks int
	}{{w.clock.Now().Add(5 * time.Second), 0}, {w.clock.Now().Add(24 * time.Hour), 1}, {w.clock.Now().Add(25 * time.Hour), 0}, {release.Add(-time.Second), 1}} {
		at := step.at
		w.clock.Set(at)
		if n, err := poll.Handle(t.Context()); n != step.looks || err != nil {
			t.Fatalf("at %s: %d looks (%v), want %d before the release", at, n, err, step.looks)
		}
		if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 0 || res.Late != 0 {
			t.Fatalf("sweep at %s: %+v %v", at, res, err)
		}
		if res, err := app.Commands.Reconcile.Handle(t.Context()); err != nil || res.Resumed != 0 {
			t.Fatalf("reconcile at %s: %+v %v", at, res, err)
		}
	}
	if len(w.auditActions(t, application.AuditOrderPreordered, o.ID())) != 1 {
		t.Error("the wait was audited again")
	}
	w.clock.Set(release)
	if n, err := poll.Handle(t.Context()); n != 1 || err != nil {
		t.Fatalf("on release day: %d looks (%v), want 1", n, err)
	}
	got, _ = w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusDelivered || poll.Scheduled() != 0 {
		t.Fatalf("after the release: order %s, %d scheduled", got.Status(), poll.Scheduled())
	}
	if it, _ := got.Item(pre.ID()); it.Status() != domain.ItemSealed || len(it.CurrentKeys()) != 1 {
		t.Errorf("pre-order item %s with %d keys", it.Status(), len(it.CurrentKeys()))
	}
	if w.supplier.PurchaseCount(pre.ID()) != 1 {
		t.Errorf("pre-order bought %d times", w.supplier.PurchaseCount(pre.ID()))
	}
}

// unreleased is a supplier whose keys never come: every order is a
// pre-order released on release, whatever the day.
type unreleased struct {
	*sandbox.Supplier
	release time.Time
}

func (s unreleased) Keys(context.Context, string) ([]ports.SupplierKey, error) {
	return nil, &ports.ReleasePendingError{ReleaseDate: s.release}
}

// TestPreorderHeldOnlyAfterItsGrace: a pre-order whose keys do not come
// is not held for review before its release date plus the grace
// (KEYWARD_PREORDER_GRACE, 48 h here by default), though far past the
// give-up time; the poll keeps looking after the release, on its backoff,
// without dropping the order; once the grace is over the sweep holds it
// with a reason naming the release.
func TestPreorderHeldOnlyAfterItsGrace(t *testing.T) {
	t.Parallel()
	w, release := preorderWorld(t)
	sup := unreleased{Supplier: w.supplier, release: release}
	var late []string
	app := w.app(func(d *application.Deps, s *application.Settings) {
		d.Suppliers = ports.Suppliers{{Supplier: sup}}
		s.Operations = application.OperationsPolicy{GiveUpAfter: 30 * time.Minute, DeliverySLO: 10 * time.Minute,
			OnLateDelivery: func(_ context.Context, id string, _ time.Duration) { late = append(late, id) }}
	})
	o := w.paidPreorder(t, app)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	poll := app.Commands.PollSupplier
	w.clock.Set(release)
	for i, gap := range []time.Duration{0, 15 * time.Second, 45 * time.Second, 2 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		w.clock.Advance(gap)
		if n, err := poll.Handle(t.Context()); n != 1 || err != nil {
			t.Fatalf("look %d after the release: %d looks (%v)", i, n, err)
		}
		if poll.Scheduled() != 1 {
			t.Fatalf("dropped after look %d", i)
		}
	}
	w.clock.Set(release.Add(application.DefaultPreorderGrace - time.Second))
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 0 || len(late) != 0 {
		t.Fatalf("within the grace: %+v %v, late %v", res, err, late)
	}
	if st := w.status(t, o.ID()); st != domain.StatusFulfilling {
		t.Fatalf("order is %s within the grace", st)
	}
	w.clock.Set(release.Add(application.DefaultPreorderGrace))
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 1 {
		t.Fatalf("after the grace: %+v %v", res, err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusNeedsReview || !strings.Contains(got.ReviewReason(), "pre-order released on "+release.Format(domain.DateLayout)) {
		t.Fatalf("order %s (%q), want needs_review naming the release", got.Status(), got.ReviewReason())
	}
}

// TestRefundDoesNotReturnAPreorder: a delivered pre-order's unrevealed
// key is not offered back to the supplier (Kinguin takes no pre-order
// back): its outcome is not_returnable and no return is asked.
func TestRefundDoesNotReturnAPreorder(t *testing.T) {
	t.Parallel()
	w, release := preorderWorld(t)
	r := &returns{asked: map[string]int{}}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Suppliers[0].Returns = r })
	o := w.paidPreorder(t, app)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	w.clock.Set(release)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Fatalf("order is %s after its release", st)
	}
	w.clock.Advance(time.Hour)
	if _, err := app.Commands.RefundOrder.Handle(t.Context(), application.RefundCommand{OrderID: o.ID(), Reason: "changed my mind", Actor: "admin:a"}); err != nil {
		t.Fatal(err)
	}
	if got := outcomes(t, w.orders, o.ID()); got[domain.KeyNotReturnable.String()] != 1 || len(got) != 1 {
		t.Fatalf("outcomes %v, want one not_returnable", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.asked) != 0 {
		t.Fatalf("return asked for %v", r.asked)
	}
}

// TestPreorderDeliveredByTheSupplierWebhook: the supplier's order.status
// webhook after the release resumes the waiting pre-order, whose keys
// are sealed and delivered at once; the same webhook before the release
// (the order still processing) changes nothing.
func TestPreorderDeliveredByTheSupplierWebhook(t *testing.T) {
	t.Parallel()
	w, release := preorderWorld(t)
	app := w.app()
	o := w.paidPreorder(t, app)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	it := item(t, w, o.ID())
	hook := func(status string, at time.Time) application.SupplierEventResult {
		t.Helper()
		body := fmt.Appendf(nil, `{"orderId":%q,"orderExternalId":%q,"status":%q,"updatedAt":%q}`,
			it.SupplierOrderID(), it.ID(), status, at.Format("2006-01-02T15:04:05.000-07:00"))
		res, err := app.Commands.SupplierWebhook.Handle(t.Context(), "sandbox", kinguinWebhook("order.status", testWebhookSecret, body))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := hook("processing", w.clock.Now()); res.Outcome != "ignored" || w.status(t, o.ID()) != domain.StatusFulfilling {
		t.Fatalf("before the release: %+v, order %s", res, w.status(t, o.ID()))
	}
	w.clock.Set(release.Add(2 * time.Hour))
	if res := hook("completed", w.clock.Now()); res.Outcome != "resumed" {
		t.Fatalf("after the release: %+v", res)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Fatalf("order is %s after the webhook, want delivered", st)
	}
	if got := item(t, w, o.ID()); got.Status() != domain.ItemSealed || !got.ReleaseDate().Equal(release) {
		t.Errorf("item %s, release %v", got.Status(), got.ReleaseDate())
	}
}
