package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// balanced is a sandbox supplier under another name that reports its
// account's balance (EUR) and counts the prices it is asked for.
type balanced struct {
	*sandbox.Supplier
	name     string
	balance  float64
	products atomic.Int32
}

func (b *balanced) Name() string { return b.name }

func (b *balanced) Balance(context.Context) (float64, error) { return b.balance, nil }

func (b *balanced) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	b.products.Add(1)
	return b.Supplier.Product(ctx, id)
}

// newBalanceWorld is a route world whose second supplier reports its
// balance, and whose app's balance book is fed by every balance read of
// its suppliers, as keyward's balance readers make them.
func newBalanceWorld(t *testing.T, second *balanced, sandboxCost, secondCost string, sandboxStock, secondStock int) (*routeWorld, ports.Suppliers) {
	t.Helper()
	rw := newRouteWorld(t, second, sandboxCost, secondCost, sandboxStock, secondStock)
	book := application.NewBalanceBook(rw.clock)
	var suppliers ports.Suppliers
	rw.app = rw.world.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = application.RecordBalances(append(d.Suppliers, ports.SupplierRegistration{Supplier: second}), book)
		d.Balances = book
		suppliers = d.Suppliers
	})
	return rw, suppliers
}

// readBalances reads every supplier's balance, as the balance gauge and
// the balance_low check do.
func readBalances(t *testing.T, s ports.Suppliers) {
	t.Helper()
	for _, r := range s.Balances() {
		if _, err := r.Balance.Balance(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRoutingPassesOverASupplierKnownTooPoor: an offer whose supplier's
// balance, read a moment ago, cannot pay for it is passed over without
// asking the supplier, and the dearer offer is bought; the timeline says
// why.
func TestRoutingPassesOverASupplierKnownTooPoor(t *testing.T) {
	t.Parallel()
	second := &balanced{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", balance: 5}
	rw, suppliers := newBalanceWorld(t, second, "14.59", "12.00", 100, 100)
	readBalances(t, suppliers)
	o, err := rw.fulfil(t)
	it := o.Items()[0]
	if err != nil || o.Status() != domain.StatusFulfilled || it.BoughtFrom() != "sandbox" || rw.supplier.PurchaseCount(it.ID()) != 1 ||
		second.TotalPurchases() != 0 || second.products.Load() != 0 {
		t.Fatalf("order %s (%v) bought from %q, %d at sandbox, %d at second (asked %d prices); want sandbox once, second not asked",
			o.Status(), err, it.BoughtFrom(), rw.supplier.PurchaseCount(it.ID()), second.TotalPurchases(), second.products.Load())
	}
	entries := purchasingEntries(o)
	if len(entries) != 1 || !strings.HasPrefix(entries[0], "sandbox/") || !strings.Contains(entries[0], "second/") ||
		!strings.Contains(entries[0], "balance too low (5.00 EUR)") {
		t.Errorf("timeline purchasing entries = %q, want the sandbox offer, second passed over for its balance of 5.00 EUR", entries)
	}

	t.Run("enough balance is bought from", func(t *testing.T) {
		t.Parallel()
		rich := &balanced{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", balance: 12}
		rw, suppliers := newBalanceWorld(t, rich, "14.59", "12.00", 100, 100)
		readBalances(t, suppliers)
		o, err := rw.fulfil(t)
		if it := o.Items()[0]; err != nil || it.BoughtFrom() != "second" || rich.PurchaseCount(it.ID()) != 1 {
			t.Fatalf("bought from %q (%v); want second, whose 12.00 EUR pays for 12.00 EUR", it.BoughtFrom(), err)
		}
	})
}

// TestRoutingDoesNotTrustAStaleBalance: a balance read longer ago than
// BalanceTrusted is not acted on: the cheaper offer is bought.
func TestRoutingDoesNotTrustAStaleBalance(t *testing.T) {
	t.Parallel()
	second := &balanced{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", balance: 5}
	rw, suppliers := newBalanceWorld(t, second, "14.59", "12.00", 100, 100)
	readBalances(t, suppliers)
	rw.clock.Advance(application.BalanceTrusted + time.Minute)
	o, err := rw.fulfil(t)
	it := o.Items()[0]
	if err != nil || o.Status() != domain.StatusFulfilled || it.BoughtFrom() != "second" || second.PurchaseCount(it.ID()) != 1 ||
		rw.supplier.TotalPurchases() != 0 {
		t.Fatalf("order %s (%v) bought from %q, %d at second, %d at sandbox; want second once (its balance is stale)",
			o.Status(), err, it.BoughtFrom(), second.PurchaseCount(it.ID()), rw.supplier.TotalPurchases())
	}
}

// TestRoutingRemembersABalanceRefusal: a refusal for want of balance at
// the cheaper offer moves the item on; the next order passes that
// supplier over without asking it, until the refusal is stale.
func TestRoutingRemembersABalanceRefusal(t *testing.T) {
	t.Parallel()
	refusal := fmt.Errorf("%w: code 10002", ports.ErrBalanceTooLow)
	second := &failing{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", err: refusal}
	rw := newRouteWorld(t, second, "14.59", "12.00", 100, 100)
	for i, want := range []string{"refused: ", "balance too low (under 12.00 EUR)"} {
		o, err := rw.fulfil(t)
		it := o.Items()[0]
		if err != nil || o.Status() != domain.StatusFulfilled || it.BoughtFrom() != "sandbox" || rw.supplier.PurchaseCount(it.ID()) != 1 ||
			second.placed.Load() != 1 {
			t.Fatalf("order %d: %s (%v) bought from %q, %d asked at second; want sandbox, second asked once in all",
				i+1, o.Status(), err, it.BoughtFrom(), second.placed.Load())
		}
		entries := purchasingEntries(o)
		if last := entries[len(entries)-1]; !strings.HasPrefix(last, "sandbox/") || !strings.Contains(last, "second/") || !strings.Contains(last, want) {
			t.Errorf("order %d: timeline purchasing entries = %q, want the sandbox offer after second (%s)", i+1, entries, want)
		}
	}
	rw.clock.Advance(application.BalanceTrusted + time.Minute)
	if _, err := rw.fulfil(t); err != nil || second.placed.Load() != 2 {
		t.Fatalf("after the refusal went stale: %v, %d asked at second; want second asked again", err, second.placed.Load())
	}
}

// TestRoutingWaitsForABalanceTopUp: when the only offer left is passed
// over for its supplier's balance, or refused for it, the order waits
// (fulfilling, retried) instead of failing, and a top-up lets it be
// bought.
func TestRoutingWaitsForABalanceTopUp(t *testing.T) {
	t.Parallel()
	t.Run("known too low", func(t *testing.T) {
		t.Parallel()
		second := &balanced{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", balance: 5}
		rw, suppliers := newBalanceWorld(t, second, "14.59", "12.00", 0, 100)
		readBalances(t, suppliers)
		o, err := rw.fulfil(t)
		if !errors.Is(err, application.ErrUnavailable) || o.Status() != domain.StatusFulfilling || second.TotalPurchases() != 0 ||
			rw.supplier.TotalPurchases() != 0 || !strings.Contains(err.Error(), "balance too low (5.00 EUR)") {
			t.Fatalf("order %s (%v), %d at second, %d at sandbox; want a wait for the balance, nothing bought",
				o.Status(), err, second.TotalPurchases(), rw.supplier.TotalPurchases())
		}
		second.balance = 50
		readBalances(t, suppliers)
		if err := rw.app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
		got, err := rw.orders.Get(t.Context(), o.ID())
		// The run that completes an order delivers it (one hop fewer).
		if err != nil || got.Status() != domain.StatusDelivered || second.PurchaseCount(got.Items()[0].ID()) != 1 {
			t.Fatalf("after the top-up: order %s (%v); want bought from second once and delivered", got.Status(), err)
		}
	})
	t.Run("refused at the last offer", func(t *testing.T) {
		t.Parallel()
		second := &failing{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), name: "second", err: fmt.Errorf("%w: code 10002", ports.ErrBalanceTooLow)}
		rw := newRouteWorld(t, second, "14.59", "12.00", 0, 100)
		o, err := rw.fulfil(t)
		if !errors.Is(err, application.ErrUnavailable) || o.Status() != domain.StatusFulfilling || second.placed.Load() != 1 ||
			rw.supplier.TotalPurchases() != 0 {
			t.Fatalf("order %s (%v), %d asked at second; want a wait for the balance, not a failure", o.Status(), err, second.placed.Load())
		}
		// The retry finds nothing bought at second, and passes it over
		// while the refusal is recent: still a wait, second not asked.
		err = rw.app.Commands.FulfilOrder.Handle(t.Context(), o.ID())
		got, _ := rw.orders.Get(t.Context(), o.ID())
		if !errors.Is(err, application.ErrUnavailable) || got.Status() != domain.StatusFulfilling || second.placed.Load() != 1 {
			t.Fatalf("retry: order %s (%v), %d asked at second; want another wait without asking", got.Status(), err, second.placed.Load())
		}
	})
}
