package application

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// storeOffers keeps every product of a page as the supplier's offer, and
// links each product the page created (written, not known before) to its
// own offer: a new product is bought from where it was listed until an
// admin links others.
func (h SyncCatalog) storeOffers(ctx context.Context, pricing domain.Pricing, sps []ports.SupplierProduct, known map[string]*domain.Product, written []*domain.Product) error {
	if h.offers == nil || len(sps) == 0 {
		return nil
	}
	offers := make([]domain.Offer, 0, len(sps))
	for _, sp := range sps {
		o := domain.Offer{
			Supplier: h.supplier.Name(), SupplierProductID: sp.ID, Name: sp.Name, Cost: sp.Cost, Stock: max(sp.Qty, 0),
			Region: sp.Region, Platform: sp.Platform, Preorder: sp.Preorder, UpdatedAt: sp.UpdatedAt,
		}
		if o.Validate() != nil {
			continue // counted as the product's error by storePage
		}
		offers = append(offers, o)
	}
	if err := h.offers.Upsert(ctx, offers...); err != nil {
		return fmt.Errorf("store offers: %w", err)
	}
	var links []ports.OfferLink
	for _, p := range written {
		if known[p.SKU()] != nil {
			continue
		}
		if ref, ok := p.SourceOffer(); ok {
			links = append(links, ports.OfferLink{SKU: p.SKU(), Offer: ref})
		}
	}
	if err := h.offers.Link(ctx, links...); err != nil {
		return fmt.Errorf("link new products to their offers: %w", err)
	}
	return h.followOffers(ctx, pricing, offers)
}

// followOffers updates the products linked to the page's offers besides
// their own listing: each follows its cheapest offer in stock (source and
// price) and holds what all its offers hold.
func (h SyncCatalog) followOffers(ctx context.Context, pricing domain.Pricing, offers []domain.Offer) error {
	refs := make([]domain.OfferRef, len(offers))
	for i, o := range offers {
		refs[i] = o.Ref()
	}
	skus, err := h.offers.LinkedTo(ctx, refs)
	if err != nil {
		return fmt.Errorf("products linked to the offers read: %w", err)
	}
	var writes []*domain.Product
	for _, sku := range skus {
		linked, err := h.offers.Linked(ctx, sku)
		if err != nil {
			return fmt.Errorf("offers of %s: %w", sku, err)
		}
		own := domain.OfferRef{Supplier: h.supplier.Name(), SupplierProductID: sku}
		if len(linked) == 1 && linked[0].Ref() == own {
			continue // its own listing, written as read
		}
		cur, err := h.catalog.Get(ctx, sku)
		if err != nil {
			return fmt.Errorf("read product %s: %w", sku, err)
		}
		p, err := domain.FollowOffers(cur, linked, pricing)
		if err != nil {
			return err
		}
		if !p.SameListing(cur) {
			writes = append(writes, p)
		}
	}
	if err := h.catalog.Upsert(ctx, writes...); err != nil {
		return fmt.Errorf("store products following their offers: %w", err)
	}
	return nil
}
