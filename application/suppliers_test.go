package application_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// renamed is a supplier under another name: a second supplier selling the
// same catalog.
type renamed struct {
	ports.Supplier
	name string
}

func (r renamed) Name() string { return r.name }

// sourcedFrom lists the catalog's first product as sold by supplier (its
// one offer) and returns its sku.
func sourcedFrom(t *testing.T, w *world, supplier string) string {
	t.Helper()
	ps, err := w.catalog.List(t.Context(), "", 1)
	if err != nil || len(ps) == 0 {
		t.Fatalf("catalog: %v", err)
	}
	s := ps[0].Snapshot()
	s.Source.Supplier = supplier
	p, err := domain.NewProduct(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.catalog.Upsert(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	offer := domain.Offer{Supplier: supplier, SupplierProductID: s.Source.SupplierProductID, Name: s.Name, Cost: s.Source.Cost, Stock: s.Stock}
	if err := w.offers.Upsert(t.Context(), offer); err != nil {
		t.Fatal(err)
	}
	if err := w.offers.SetLinks(t.Context(), p.SKU(), []domain.OfferRef{offer.Ref()}); err != nil {
		t.Fatal(err)
	}
	return p.SKU()
}

// paidOrderOf places and pays an order of one unit of sku.
func paidOrderOf(t *testing.T, w *world, app application.App, sku string) *domain.Order {
	t.Helper()
	placed, err := app.Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com",
		Lines: []application.PlaceOrderLine{{SKU: sku, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	o, p := placed.Order, placed.Order.Payment()
	updated, err := w.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return updated
}

// TestItemsAreBoughtFromTheirProductsSupplier: with two suppliers, an item
// is bought from its product's supplier only, and records it; an item
// whose supplier is not configured is held for review, bought nowhere.
func TestItemsAreBoughtFromTheirProductsSupplier(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	second := sandbox.NewSupplier(sandbox.SupplierConfig{})
	sku := sourcedFrom(t, w, "second")
	both := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = append(d.Suppliers, ports.SupplierRegistration{Supplier: renamed{second, "second"}})
	})
	o := paidOrderOf(t, w, both, sku)
	if err := application.FulfilOnly(both.Commands.FulfilOrder).Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	it := got.Items()[0]
	if got.Status() != domain.StatusFulfilled || it.BoughtFrom() != "second" || second.PurchaseCount(it.ID()) != 1 || w.supplier.TotalPurchases() != 0 {
		t.Fatalf("order %s, item bought from %q; %d purchases at second, %d at sandbox; want fulfilled from second only",
			got.Status(), it.BoughtFrom(), second.PurchaseCount(it.ID()), w.supplier.TotalPurchases())
	}

	// Without the second supplier: held, never bought at the first.
	one := w.app()
	o = paidOrderOf(t, w, one, sku)
	if err := one.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	got, _ = w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusNeedsReview || !strings.Contains(got.ReviewReason(), "KEYWARD_SUPPLIERS") || w.supplier.TotalPurchases() != 0 {
		t.Fatalf("order of an unconfigured supplier is %s (%q) with %d purchases at sandbox; want held, none", got.Status(), got.ReviewReason(), w.supplier.TotalPurchases())
	}
}

// TestSupplierEventOfAnotherSupplierIsIgnored: a webhook resumes only an
// item bought from the supplier that sent it.
func TestSupplierEventOfAnotherSupplierIsIgnored(t *testing.T) {
	t.Parallel()
	w, _, _ := slowSupplierWorld(t)
	second := sandbox.NewSupplier(sandbox.SupplierConfig{})
	app := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = append(d.Suppliers, ports.SupplierRegistration{Supplier: renamed{second, "second"}, Hooks: kinguin.NewWebhookVerifier(testWebhookSecret)})
	})
	o := w.paidOrder(t, 1)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	it := item(t, w, o.ID())
	w.clock.Advance(2 * time.Hour) // the sandbox delivers
	body := orderEvent(it.SupplierOrderID(), it.ID(), "completed", w.clock.Now())
	res, err := app.Commands.SupplierWebhook.Handle(t.Context(), "second", kinguinWebhook("order.status", testWebhookSecret, body))
	if err != nil || res.Outcome != "ignored" || !strings.Contains(res.Reason, "bought from") {
		t.Fatalf("event from the other supplier: %+v, %v; want ignored", res, err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusFulfilling {
		t.Fatalf("order is %s after another supplier's event, want still fulfilling", st)
	}
	res, err = app.Commands.SupplierWebhook.Handle(t.Context(), "sandbox", kinguinWebhook("order.status", testWebhookSecret, body))
	if err != nil || res.Outcome != "resumed" {
		t.Fatalf("event from its own supplier: %+v, %v; want resumed", res, err)
	}
	if _, err := app.Commands.SupplierWebhook.Handle(t.Context(), "g2a", kinguinWebhook("order.status", testWebhookSecret, body)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("event to an unknown supplier: %v, want not found", err)
	}
}

// TestSyncOfAnotherSupplier: a sync names its supplier, and each
// supplier's runs are its own: listed under its name, its own baseline for
// its incremental runs, never the first supplier's.
func TestSyncOfAnotherSupplier(t *testing.T) {
	t.Parallel()
	w := newWorld(t) // the sandbox's catalog synced in full
	second := &smallPages{Supplier: renamed{sandbox.NewSupplier(sandbox.SupplierConfig{}), "second"}}
	app := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = append(d.Suppliers, ports.SupplierRegistration{Supplier: second})
	})
	sync := app.Commands.SyncCatalog
	if _, err := sync.Handle(t.Context(), application.SyncCatalogCommand{Supplier: "g2a"}); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("sync of an unknown supplier: %v, want not found", err)
	}
	res, err := sync.Handle(t.Context(), application.SyncCatalogCommand{Supplier: "second"})
	if err != nil || res.Mode != domain.SyncFull || res.Products == 0 {
		t.Fatalf("sync of second: %+v, %v; want a full run (second has no baseline of its own)", res, err)
	}
	runs, err := app.Queries.SyncRuns.HandleOf(t.Context(), "second", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs.Items) != 1 || runs.Items[0].ID() != res.RunID || runs.Items[0].Status() != domain.SyncSucceeded || runs.Items[0].Supplier() != "second" {
		t.Fatalf("second's runs = %d (first %+v), want its one succeeded run", len(runs.Items), runs.Items)
	}
	again, err := sync.Handle(t.Context(), application.SyncCatalogCommand{Supplier: "second"})
	if err != nil || again.Mode != domain.SyncIncremental {
		t.Fatalf("second's next run: %+v, %v; want incremental from its own full run", again, err)
	}
	// The first supplier's next run is planned from its own.
	first, err := sync.Handle(t.Context(), application.SyncCatalogCommand{})
	if err != nil || first.Mode != domain.SyncIncremental {
		t.Fatalf("first supplier's next run: %+v, %v; want incremental from its full run", first, err)
	}
	sandboxRuns, err := app.Queries.SyncRuns.HandleOf(t.Context(), "sandbox", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(sandboxRuns.Items) != 2 || sandboxRuns.Items[0].ID() != first.RunID {
		t.Fatalf("sandbox's runs = %d, want its two (the start-up full run and the incremental one)", len(sandboxRuns.Items))
	}
}
