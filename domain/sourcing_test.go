package domain_test

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/domain"
)

func TestSourcing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		stock, supplier bool
		available       int // with 7 at the supplier and 3 of our own
	}{
		{"stock_only", true, false, 3},
		{"supplier_only", false, true, 7},
		{"stock_then_supplier", true, true, 10},
	}
	for _, tt := range tests {
		m, err := domain.ParseSourcing(tt.name)
		if err != nil || m.String() != tt.name {
			t.Fatalf("ParseSourcing(%q) = %v, %v", tt.name, m, err)
		}
		if m.UsesStock() != tt.stock || m.UsesSupplier() != tt.supplier || m.Available(7, 3) != tt.available {
			t.Errorf("%s: stock %v supplier %v available %d", tt.name, m.UsesStock(), m.UsesSupplier(), m.Available(7, 3))
		}
	}
	if _, err := domain.ParseSourcing("both"); !errors.Is(err, domain.ErrInvalidProduct) {
		t.Errorf("ParseSourcing(both) = %v, want ErrInvalidProduct", err)
	}
	var zero domain.Sourcing
	if zero.UsesStock() || zero.UsesSupplier() || zero.Available(7, 3) != 0 {
		t.Error("the zero sourcing sources something")
	}
}

// TestProductSourcing: a supplier product nobody configured sells our own
// keys first, then bought ones; an own-stock product only its stock;
// WithSourcing counts our own stock where the mode takes it.
func TestProductSourcing(t *testing.T) {
	t.Parallel()
	snap := domain.ProductSnapshot{SKU: "game", Name: "Game", Price: domain.MustMoney("9.99", "EUR"), Stock: 7, Active: true,
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: "g"}}
	p, err := domain.NewProduct(snap)
	if err != nil || p.Sourcing() != domain.SourcingStockThenSupplier {
		t.Fatalf("supplier product sourcing %v (%v), want stock_then_supplier", p.Sourcing(), err)
	}
	snap.Source = domain.ProductSource{Kind: domain.SourceOwnStock}
	if own, _ := domain.NewProduct(snap); own.Sourcing() != domain.SourcingStockOnly {
		t.Fatalf("own stock product sourcing %v, want stock_only", own.Sourcing())
	}
	held := p.WithSourcing(domain.SourcingStockOnly, 0)
	if held.InStock() || !errors.Is(held.CanSell(1), domain.ErrOutOfStock) || p.Stock() != 7 {
		t.Fatalf("stock_only with no keys: in stock %v, stock %d; the original changed to %d", held.InStock(), held.Stock(), p.Stock())
	}
	if both := p.WithSourcing(domain.SourcingStockThenSupplier, 3); both.Stock() != 10 || both.Snapshot().Sourcing != domain.SourcingStockThenSupplier {
		t.Fatalf("stock_then_supplier stock %d, want 10", both.Stock())
	}
}
