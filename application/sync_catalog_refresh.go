package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
)

// Refresh reads one product from its supplier again and stores it with
// its current cost and stock, keeping whether it is active and a pinned
// price; a product the supplier no longer sells stays listed with no
// stock. It does nothing for a product that is not in the catalog or not
// from this supplier, or whose catalog entry is as new as asOf or newer (a
// stale notice), and reports whether it stored anything. Supplier products
// are listed under their supplier id as sku.
//
// supplier names who sent the notice: a product listed from another
// supplier is not refreshed.
func (h SyncCatalog) Refresh(ctx context.Context, supplier, productID string, asOf time.Time) (bool, error) {
	cur, err := h.catalog.Get(ctx, productID)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read product %s: %w", productID, err)
	}
	r, ok := h.suppliers.Get(cur.Source().Supplier)
	if !ok || cur.Source().Supplier != supplier || !asOf.IsZero() && !cur.UpdatedAt().Before(asOf) {
		return false, nil
	}
	h.supplier = r.Supplier
	snap := cur.Snapshot()
	sp, err := h.supplier.Product(ctx, cur.Source().SupplierProductID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		snap.Stock, snap.UpdatedAt = 0, later(asOf, h.clock.Now())
		p, err := domain.NewProduct(snap)
		if err != nil {
			return false, err
		}
		return true, h.store(ctx, p)
	case err != nil:
		return false, fmt.Errorf("read supplier product %s: %w", productID, err)
	}
	pricing, err := h.loadPricing(ctx)
	if err != nil {
		return false, err
	}
	sp.UpdatedAt = later(sp.UpdatedAt, asOf)
	p, err := h.listing(pricing, cur, sp)
	if err != nil || p == nil {
		return false, err
	}
	return true, h.store(ctx, p)
}

func (h SyncCatalog) store(ctx context.Context, p *domain.Product) error {
	if err := h.catalog.Upsert(ctx, p); err != nil {
		return fmt.Errorf("store product %s: %w", p.SKU(), err)
	}
	return nil
}
