package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Offers is an OfferRepository in memory; its links refer to the products
// of catalog, as they do to the products table in PostgreSQL.
type Offers struct {
	catalog *Catalog
	mu      sync.RWMutex
	offers  map[domain.OfferRef]domain.Offer
	links   map[string][]domain.OfferRef // by sku
}

var _ ports.OfferRepository = (*Offers)(nil)

// NewOffers returns an empty repository whose links name catalog's products.
func NewOffers(catalog *Catalog) *Offers {
	return &Offers{catalog: catalog, offers: map[domain.OfferRef]domain.Offer{}, links: map[string][]domain.OfferRef{}}
}

// Upsert inserts or replaces offers.
func (r *Offers) Upsert(_ context.Context, offers ...domain.Offer) error {
	for _, o := range offers {
		if err := o.Validate(); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range offers {
		o.UpdatedAt = o.UpdatedAt.UTC()
		r.offers[o.Ref()] = o
	}
	return nil
}

// Get returns one offer or domain.ErrNotFound.
func (r *Offers) Get(_ context.Context, ref domain.OfferRef) (domain.Offer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	o, ok := r.offers[ref]
	if !ok {
		return domain.Offer{}, fmt.Errorf("%w: offer %s", domain.ErrNotFound, ref)
	}
	return o, nil
}

// List returns up to limit offers by supplier then product id, after after.
func (r *Offers) List(_ context.Context, after domain.OfferRef, limit int) ([]domain.Offer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []domain.Offer
	for ref, o := range r.offers {
		if compareRefs(ref, after) > 0 {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b domain.Offer) int { return compareRefs(a.Ref(), b.Ref()) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func compareRefs(a, b domain.OfferRef) int {
	if c := strings.Compare(a.Supplier, b.Supplier); c != 0 {
		return c
	}
	return strings.Compare(a.SupplierProductID, b.SupplierProductID)
}

// Link adds links, leaving those that exist.
func (r *Offers) Link(ctx context.Context, links ...ports.OfferLink) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range links {
		if err := r.check(ctx, l.SKU, l.Offer); err != nil {
			return err
		}
	}
	for _, l := range links {
		if !slices.Contains(r.links[l.SKU], l.Offer) {
			r.links[l.SKU] = append(r.links[l.SKU], l.Offer)
		}
	}
	return nil
}

// SetLinks replaces the product's links.
func (r *Offers) SetLinks(ctx context.Context, sku string, refs []domain.OfferRef) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.catalog.Get(ctx, sku); err != nil {
		return err
	}
	var set []domain.OfferRef
	for _, ref := range refs {
		if err := r.check(ctx, sku, ref); err != nil {
			return err
		}
		if !slices.Contains(set, ref) {
			set = append(set, ref)
		}
	}
	r.links[sku] = set
	return nil
}

// check returns domain.ErrNotFound unless the product and the offer exist;
// r.mu is held.
func (r *Offers) check(ctx context.Context, sku string, ref domain.OfferRef) error {
	if _, err := r.catalog.Get(ctx, sku); err != nil {
		return err
	}
	if _, ok := r.offers[ref]; !ok {
		return fmt.Errorf("%w: offer %s", domain.ErrNotFound, ref)
	}
	return nil
}

// Linked returns the product's offers, cheapest first.
func (r *Offers) Linked(_ context.Context, sku string) ([]domain.Offer, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]domain.Offer, 0, len(r.links[sku]))
	for _, ref := range r.links[sku] {
		out = append(out, r.offers[ref])
	}
	domain.SortOffersByCost(out)
	return out, nil
}

// LinkedTo returns the skus linked to any of refs.
func (r *Offers) LinkedTo(_ context.Context, refs []domain.OfferRef) ([]string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for sku, links := range r.links {
		for _, l := range links {
			if slices.Contains(refs, l) {
				out = append(out, sku)
				break
			}
		}
	}
	return out, nil
}
