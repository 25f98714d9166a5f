package application

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SyncCatalog copies the supplier's products into the catalog, priced at
// cost plus a margin, rounded up to the next .99 the way shops price.
type SyncCatalog struct {
	supplier ports.Supplier
	catalog  ports.CatalogRepository
	clock    ports.Clock
	// Margin is the markup on cost, e.g. 0.10 for 10%.
	margin decimal.Decimal
}

// NewSyncCatalog wires SyncCatalog; it panics when a dependency is nil.
func NewSyncCatalog(supplier ports.Supplier, catalog ports.CatalogRepository, clock ports.Clock, margin decimal.Decimal) SyncCatalog {
	require("SyncCatalog", "supplier", supplier, "catalog", catalog, "clock", clock)
	return SyncCatalog{supplier: supplier, catalog: catalog, clock: clock, margin: margin}
}

// Handle returns how many products were stored, or the supplier's error.
func (h SyncCatalog) Handle(ctx context.Context) (int, error) {
	sps, err := h.supplier.Products(ctx)
	if err != nil {
		return 0, fmt.Errorf("list supplier products: %w", err)
	}
	now := h.clock.Now()
	products := make([]*domain.Product, 0, len(sps))
	for _, sp := range sps {
		price, err := domain.MoneyFromDecimal(retailPrice(sp.Cost.Amount(), h.margin), sp.Cost.Currency())
		if err != nil {
			return 0, fmt.Errorf("price %s: %w", sp.ID, err)
		}
		p, err := domain.NewProduct(domain.ProductSnapshot{
			SKU: sp.ID, Name: sp.Name, Platform: sp.Platform, Region: sp.Region, Price: price,
			Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: h.supplier.Name(), SupplierProductID: sp.ID, Cost: sp.Cost},
			Stock:  sp.Qty, Active: true, UpdatedAt: now,
		})
		if err != nil {
			return 0, err
		}
		products = append(products, p)
	}
	if err := h.catalog.Upsert(ctx, products...); err != nil {
		return 0, fmt.Errorf("store catalog: %w", err)
	}
	return len(products), nil
}

// retailPrice is cost × (1 + margin) rounded up to the next x.99; never
// below cost × (1 + margin).
func retailPrice(cost, margin decimal.Decimal) decimal.Decimal {
	floor := cost.Mul(decimal.NewFromInt(1).Add(margin))
	cent := decimal.New(1, -2)
	charm := floor.Ceil().Sub(cent)
	if charm.LessThan(floor) {
		charm = charm.Add(decimal.NewFromInt(1))
	}
	return charm
}
