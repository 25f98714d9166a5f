package application

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// listing returns the catalog entry of supplier product sp given the
// current one (nil when new), or nil when nothing changed. An existing
// entry keeps whether it is active, a pinned price and what the supplier
// does not say; its change time is the supplier's when known.
func (h SyncCatalog) listing(pricing domain.Pricing, cur *domain.Product, sp ports.SupplierProduct) (*domain.Product, error) {
	s := domain.ProductSnapshot{Active: true}
	if cur != nil {
		s = cur.Snapshot()
		if s.Source.Kind == domain.SourceSupplier && s.Source.Supplier != h.supplier.Name() && h.offers != nil {
			// An admin linked the product to another supplier's cheaper
			// offer: it follows that one; this read is kept as an offer.
			return nil, nil
		}
		if s.Source.Kind != domain.SourceSupplier || s.Source.Supplier != h.supplier.Name() {
			return nil, fmt.Errorf("%w: sku %s is not listed from %s", domain.ErrConflict, sp.ID, h.supplier.Name())
		}
	}
	s.SKU, s.Name, s.Platform, s.Region, s.Stock = sp.ID, sp.Name, sp.Platform, sp.Region, sp.Qty
	// A pre-order while its release is to come (or the supplier names no
	// date): a supplier may keep the flag after the release day.
	s.Preorder = sp.Preorder && (sp.ReleaseDate.IsZero() || h.clock.Now().Before(sp.ReleaseDate))
	s.ReleaseDate = sp.ReleaseDate
	s.Source = domain.ProductSource{Kind: domain.SourceSupplier, Supplier: h.supplier.Name(), SupplierProductID: sp.ID, Cost: sp.Cost}
	if !s.PricePinned {
		price, err := pricing.SalePrice(sp.ID, sp.Platform, sp.Cost)
		if err != nil {
			return nil, err
		}
		s.Price = price
	}
	s.UpdatedAt = sp.UpdatedAt
	if s.UpdatedAt.IsZero() {
		s.UpdatedAt = h.clock.Now()
	}
	p, err := domain.NewProduct(s)
	if err != nil {
		return nil, err
	}
	if cur != nil && p.SameListing(cur) {
		return nil, nil
	}
	return p, nil
}

// loadPricing returns the operator's pricing with the stored rules.
func (h SyncCatalog) loadPricing(ctx context.Context) (domain.Pricing, error) {
	rules, err := h.rules.List(ctx)
	if err != nil {
		return domain.Pricing{}, fmt.Errorf("read pricing rules: %w", err)
	}
	return domain.NewPricing(h.pricing.Margin, h.pricing.Fee, h.pricing.Ending, rules...)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
