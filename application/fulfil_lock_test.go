package application_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/codeswholesale"
	"github.com/keyward/keyward/adapters/codeswholesale/codeswholesaletest"
	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// gatedSupplier holds every PlaceOrder until open is closed, counting
// the calls that reached it.
type gatedSupplier struct {
	ports.Supplier
	arrived *atomic.Int32
	open    chan struct{}
}

func (s gatedSupplier) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	s.arrived.Add(1)
	select {
	case <-s.open:
	case <-ctx.Done():
		return ports.SupplierOrder{}, ctx.Err()
	}
	return s.Supplier.PlaceOrder(ctx, r)
}

// cwWorld is the memory world buying from the CodesWholesale contract
// server, with its catalog imported.
type cwWorld struct {
	*world
	cw     *codeswholesaletest.Server
	client *codeswholesale.Client
}

func newCWWorld(t *testing.T) *cwWorld {
	t.Helper()
	w := &cwWorld{world: newWorld(t), cw: codeswholesaletest.New(t, 0, 0)}
	var err error
	w.client, err = codeswholesale.New(codeswholesale.Config{BaseURL: w.cw.BaseURL(), ClientID: codeswholesaletest.ClientID,
		ClientSecret: codeswholesaletest.ClientSecret, Backoff: time.Millisecond, MaxBackoff: time.Millisecond, KeysWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.appWith(w.client).Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{Supplier: "codeswholesale"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// appWith builds the application buying from the sandbox and sup (as
// codeswholesale), with the world's locks unless change swaps them.
func (w *cwWorld) appWith(sup ports.Supplier, change ...func(*application.Deps, *application.Settings)) application.App {
	return w.app(append([]func(*application.Deps, *application.Settings){func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = ports.Suppliers{{Supplier: w.supplier, Hooks: kinguin.NewWebhookVerifier(testWebhookSecret)}, {Supplier: sup}}
	}}, change...)...)
}

// paidCWOrder places and pays an order for one key of the reference
// text-key product.
func (w *cwWorld) paidCWOrder(t *testing.T) *domain.Order {
	t.Helper()
	products, err := w.catalog.List(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	sku := ""
	for _, p := range products {
		if s := p.Source(); s.Supplier == "codeswholesale" && s.SupplierProductID == codeswholesaletest.ProductID {
			sku = p.SKU()
		}
	}
	if sku == "" {
		t.Fatal("the CodesWholesale product was not imported")
	}
	placed, err := w.appWith(w.client).Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com",
		Lines: []application.PlaceOrderLine{{SKU: sku, Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	p := o.Payment()
	_, err = w.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestConcurrentFulfilmentBuysOnceAtCodesWholesale: two runs of one
// order's fulfilment (a redelivered message and the reconciler, say) reach
// the purchase together. CodesWholesale does not de-duplicate orders, so
// only the run holding the item's purchase lock may look up and post; the
// other stops with ErrUnavailable, and a later run finishes the order from
// what the first recorded. With memory locks and with Postgres advisory
// locks: exactly one CodesWholesale order.
func TestConcurrentFulfilmentBuysOnceAtCodesWholesale(t *testing.T) {
	t.Parallel()
	for name, locks := range map[string]func(t *testing.T) ports.Locks{
		"memory":   func(*testing.T) ports.Locks { return memory.NewLocks() },
		"postgres": func(t *testing.T) ports.Locks { return postgres.NewLocks(pgtest.NewDB(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newCWWorld(t)
			o := w.paidCWOrder(t)
			itemID := o.Items()[0].ID()
			gate := gatedSupplier{Supplier: w.client, arrived: &atomic.Int32{}, open: make(chan struct{})}
			l := locks(t)
			withLocks := func(d *application.Deps, _ *application.Settings) { d.Locks = l }
			fulfil := application.FulfilOnly(w.appWith(gate, withLocks).Commands.FulfilOrder)

			var wg sync.WaitGroup
			var returned atomic.Int32
			errs := make([]error, 2)
			for i := range errs {
				wg.Go(func() {
					errs[i] = fulfil.Handle(t.Context(), o.ID())
					returned.Add(1)
				})
			}
			// Both runs are at CodesWholesale's door, or one gave way.
			testkit.Eventually(t, 10*time.Second, "both runs at the purchase, or one stopped", func() bool {
				return gate.arrived.Load() == 2 || returned.Load() > 0
			})
			close(gate.open)
			wg.Wait()
			if n := w.cw.Purchases(itemID); n != 1 {
				t.Fatalf("%d CodesWholesale orders for the item from two concurrent runs (%d reached PlaceOrder), want 1", n, gate.arrived.Load())
			}
			if !errors.Is(errs[0], application.ErrUnavailable) && !errors.Is(errs[1], application.ErrUnavailable) {
				t.Fatalf("run errors %v, %v: want one run stopped as unavailable", errs[0], errs[1])
			}
			// A later run finishes the order from what the first recorded.
			if err := fulfil.Handle(t.Context(), o.ID()); err != nil {
				t.Fatal(err)
			}
			if st := w.status(t, o.ID()); st != domain.StatusFulfilled {
				t.Fatalf("order is %s, want fulfilled", st)
			}
			if n, posts := w.cw.Purchases(itemID), w.cw.Requests("POST /v3/orders"); n != 1 || posts != 1 {
				t.Fatalf("%d CodesWholesale orders from %d POSTs, want 1 from 1", n, posts)
			}
		})
	}
}
