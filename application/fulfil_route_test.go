package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// failing is a supplier whose calls fail with err (Product only when
// productToo), counting the purchases it was asked for.
type failing struct {
	ports.Supplier
	name       string
	err        error
	productToo bool
	placed     atomic.Int32
}

func (f *failing) Name() string { return f.name }

func (f *failing) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	if f.productToo {
		return ports.SupplierProduct{}, f.err
	}
	return f.Supplier.Product(ctx, id)
}

func (f *failing) PlaceOrder(context.Context, ports.PurchaseRequest) (ports.SupplierOrder, error) {
	f.placed.Add(1)
	return ports.SupplierOrder{}, f.err
}

// routeWorld is a world whose first catalog product is offered by the
// sandbox ("sandbox") and by a second supplier ("second"), with the costs
// and stock given; its app has both suppliers.
type routeWorld struct {
	*world
	sku    string
	second ports.Supplier
	app    application.App
}

func newRouteWorld(t *testing.T, second ports.Supplier, sandboxCost, secondCost string, sandboxStock, secondStock int) *routeWorld {
	t.Helper()
	w := newWorld(t)
	ps, err := w.catalog.List(t.Context(), "", 1)
	if err != nil || len(ps) == 0 {
		t.Fatalf("catalog: %v", err)
	}
	p := ps[0]
	offers := []domain.Offer{
		{Supplier: "sandbox", SupplierProductID: p.Source().SupplierProductID, Name: p.Name(), Cost: domain.MustMoney(sandboxCost, "EUR"), Stock: sandboxStock},
		{Supplier: "second", SupplierProductID: p.Source().SupplierProductID, Name: p.Name(), Cost: domain.MustMoney(secondCost, "EUR"), Stock: secondStock},
	}
	if err := w.offers.Upsert(t.Context(), offers...); err != nil {
		t.Fatal(err)
	}
	if err := w.offers.SetLinks(t.Context(), p.SKU(), []domain.OfferRef{offers[0].Ref(), offers[1].Ref()}); err != nil {
		t.Fatal(err)
	}
	app := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = append(d.Suppliers, ports.SupplierRegistration{Supplier: second})
	})
	return &routeWorld{world: w, sku: p.SKU(), second: second, app: app}
}

// fulfil places, pays and fulfils an order of one key; it returns the
// order as stored and the error of the fulfilment.
func (rw *routeWorld) fulfil(t *testing.T) (*domain.Order, error) {
	t.Helper()
	o := paidOrderOf(t, rw.world, rw.app, rw.sku)
	ferr := application.FulfilOnly(rw.app.Commands.FulfilOrder).Handle(t.Context(), o.ID())
	got, err := rw.orders.Get(t.Context(), o.ID())
	if err != nil {
		t.Fatal(err)
	}
	return got, ferr
}

// purchasingEntries returns the item_purchasing entries of the timeline
// as "offer | tried".
func purchasingEntries(o *domain.Order) []string {
	var out []string
	for _, e := range o.Timeline() {
		if e.Kind() == domain.EventKindItemPurchasing {
			out = append(out, e.Value("offer")+" | "+e.Value("tried"))
		}
	}
	return out
}

// TestRoutingBuysTheCheapestOfferInStock: the cheaper offer is bought; an
// offer out of stock is passed over, and the timeline says so.
func TestRoutingBuysTheCheapestOfferInStock(t *testing.T) {
	t.Parallel()
	t.Run("cheaper second", func(t *testing.T) {
		t.Parallel()
		second := sandbox.NewSupplier(sandbox.SupplierConfig{})
		rw := newRouteWorld(t, renamed{second, "second"}, "14.59", "12.00", 100, 100)
		o, err := rw.fulfil(t)
		it := o.Items()[0]
		if err != nil || o.Status() != domain.StatusFulfilled || it.BoughtFrom() != "second" || second.PurchaseCount(it.ID()) != 1 || rw.supplier.TotalPurchases() != 0 {
			t.Fatalf("order %s (%v), bought from %q, %d at second, %d at sandbox; want fulfilled from second once",
				o.Status(), err, it.BoughtFrom(), second.PurchaseCount(it.ID()), rw.supplier.TotalPurchases())
		}
	})
	t.Run("cheaper sandbox", func(t *testing.T) {
		t.Parallel()
		second := sandbox.NewSupplier(sandbox.SupplierConfig{})
		rw := newRouteWorld(t, renamed{second, "second"}, "12.00", "14.59", 100, 100)
		o, err := rw.fulfil(t)
		it := o.Items()[0]
		if err != nil || it.BoughtFrom() != "sandbox" || second.TotalPurchases() != 0 || rw.supplier.PurchaseCount(it.ID()) != 1 {
			t.Fatalf("bought from %q (%v), %d at second; want sandbox only", it.BoughtFrom(), err, second.TotalPurchases())
		}
	})
	t.Run("cheaper out of stock", func(t *testing.T) {
		t.Parallel()
		second := sandbox.NewSupplier(sandbox.SupplierConfig{})
		rw := newRouteWorld(t, renamed{second, "second"}, "14.59", "12.00", 100, 0)
		o, err := rw.fulfil(t)
		it := o.Items()[0]
		if err != nil || o.Status() != domain.StatusFulfilled || it.BoughtFrom() != "sandbox" || second.TotalPurchases() != 0 {
			t.Fatalf("order %s (%v) bought from %q, %d at second; want sandbox", o.Status(), err, it.BoughtFrom(), second.TotalPurchases())
		}
		entries := purchasingEntries(o)
		if len(entries) != 1 || !strings.HasPrefix(entries[0], "sandbox/") || !strings.Contains(entries[0], "second/") ||
			!strings.Contains(entries[0], "out of stock") {
			t.Errorf("timeline purchasing entries = %q, want the sandbox offer, second passed over as out of stock", entries)
		}
	})
}

// TestRoutingMovesOnFromARefusalOrAnOpenBreaker: a final refusal or an
// open breaker at the cheaper supplier moves the item to the next offer,
// bought once; a temporary error waits, bought nowhere.
func TestRoutingMovesOnFromARefusalOrAnOpenBreaker(t *testing.T) {
	t.Parallel()
	open := fmt.Errorf("%w: %w: %w: supplier.second", application.ErrUnavailable, ports.ErrSupplierTemporary, ports.ErrCircuitOpen)
	for _, c := range []struct {
		name       string
		err        error
		productToo bool
		wantTried  string
	}{
		{"refused for good", fmt.Errorf("%w: balance too low", ports.ErrSupplierPermanent), false, "refused"},
		{"breaker open", open, true, "circuit breaker open"},
		{"breaker opens at the purchase", open, false, "circuit breaker open"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			second := &failing{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", err: c.err, productToo: c.productToo}
			rw := newRouteWorld(t, second, "14.59", "12.00", 100, 100)
			o, err := rw.fulfil(t)
			it := o.Items()[0]
			if err != nil || o.Status() != domain.StatusFulfilled || it.BoughtFrom() != "sandbox" || rw.supplier.PurchaseCount(it.ID()) != 1 {
				t.Fatalf("order %s (%v) bought from %q, %d at sandbox; want fulfilled from sandbox once", o.Status(), err, it.BoughtFrom(),
					rw.supplier.PurchaseCount(it.ID()))
			}
			entries := purchasingEntries(o)
			last := entries[len(entries)-1]
			if !strings.HasPrefix(last, "sandbox/") || !strings.Contains(last, "second/") || !strings.Contains(last, c.wantTried) {
				t.Errorf("timeline purchasing entries = %q, want the sandbox offer after second (%s)", entries, c.wantTried)
			}
		})
	}
	t.Run("temporary error waits", func(t *testing.T) {
		t.Parallel()
		second := &failing{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", err: fmt.Errorf("%w: 503", ports.ErrSupplierTemporary)}
		rw := newRouteWorld(t, second, "14.59", "12.00", 100, 100)
		o, err := rw.fulfil(t)
		it := o.Items()[0]
		if !errors.Is(err, application.ErrUnavailable) || o.Status() != domain.StatusFulfilling || rw.supplier.TotalPurchases() != 0 ||
			second.placed.Load() != 1 || it.BoughtFrom() != "second" {
			t.Fatalf("order %s (%v) begun at %q, %d at sandbox, %d asked at second; want a retry, begun at second, nothing at sandbox",
				o.Status(), err, it.BoughtFrom(), rw.supplier.TotalPurchases(), second.placed.Load())
		}
		// The retry looks for the purchase at second first: second's order
		// history is unreadable too, so nothing is bought elsewhere.
		second.productToo = true
		err = application.FulfilOnly(rw.app.Commands.FulfilOrder).Handle(t.Context(), o.ID())
		if !errors.Is(err, application.ErrUnavailable) || rw.supplier.TotalPurchases() != 0 {
			t.Fatalf("retry: %v with %d at sandbox; want another wait, nothing bought elsewhere", err, rw.supplier.TotalPurchases())
		}
	})
}

// TestRoutingFollowsABegunPurchase: an item whose purchase was begun at a
// supplier that has it is followed there, even when another offer is
// cheaper now.
func TestRoutingFollowsABegunPurchase(t *testing.T) {
	t.Parallel()
	second := sandbox.NewSupplier(sandbox.SupplierConfig{})
	rw := newRouteWorld(t, renamed{second, "second"}, "14.59", "12.00", 100, 100)
	o := paidOrderOf(t, rw.world, rw.app, rw.sku)
	itemID := o.Items()[0].ID()
	// A run began the purchase at the sandbox, which placed it, and
	// crashed before recording it.
	if _, err := rw.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		if _, err := o.StartFulfilment(rw.clock.Now()); err != nil {
			return err
		}
		return o.BeginItemPurchaseFrom(itemID, "sandbox", rw.clock.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.supplier.PlaceOrder(t.Context(), ports.PurchaseRequest{ExternalID: itemID, ProductID: rw.sku, Qty: 1,
		Price: domain.MustMoney("19.99", "EUR")}); err != nil {
		t.Fatal(err)
	}
	if err := application.FulfilOnly(rw.app.Commands.FulfilOrder).Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	got, _ := rw.orders.Get(t.Context(), o.ID())
	it := got.Items()[0]
	if got.Status() != domain.StatusFulfilled || it.BoughtFrom() != "sandbox" || rw.supplier.PurchaseCount(itemID) != 1 || second.TotalPurchases() != 0 {
		t.Fatalf("order %s bought from %q, %d at sandbox, %d at second; want followed at sandbox, bought once",
			got.Status(), it.BoughtFrom(), rw.supplier.PurchaseCount(itemID), second.TotalPurchases())
	}
}
