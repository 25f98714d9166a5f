package application

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditProductOffersSet records an admin's choice of a product's offers.
const AuditProductOffersSet = "catalog.product_offers_set"

// SetProductOffers replaces the offers a product is bought from. A product
// bought from suppliers takes the cheapest linked offer as its source: its
// computed price follows that offer's cost.
type SetProductOffers struct {
	tx        ports.Transactor
	catalog   ports.CatalogRepository
	offers    ports.OfferRepository
	rules     ports.PricingRules
	audit     ports.AuditLog
	suppliers ports.Suppliers
	pricing   PricingSettings
}

// NewSetProductOffers wires SetProductOffers; it panics when a dependency
// is nil.
func NewSetProductOffers(tx ports.Transactor, catalog ports.CatalogRepository, offers ports.OfferRepository, rules ports.PricingRules,
	audit ports.AuditLog, suppliers ports.Suppliers, pricing PricingSettings) SetProductOffers {
	require("SetProductOffers", "tx", tx, "catalog", catalog, "offers", offers, "pricingRules", rules, "audit", audit)
	return SetProductOffers{tx: tx, catalog: catalog, offers: offers, rules: rules, audit: audit, suppliers: suppliers, pricing: pricing}
}

// SetProductOffersCommand is the new list of a product's offers.
type SetProductOffersCommand struct {
	Actor  string
	SKU    string
	Offers []domain.OfferRef
}

// ErrUnknownOffer: an offer an admin named is not one keyward knows (its
// supplier is not configured, or its catalog never listed it).
var ErrUnknownOffer = fmt.Errorf("%w: unknown offer", domain.ErrInvalidProduct)

// Handle links the offers and returns them, cheapest first:
// domain.ErrNotFound for an unknown sku, ErrUnknownOffer for an offer of a
// supplier not configured or one its catalog does not hold.
func (h SetProductOffers) Handle(ctx context.Context, cmd SetProductOffersCommand) ([]domain.Offer, error) {
	for _, ref := range cmd.Offers {
		if _, ok := h.suppliers.Get(ref.Supplier); !ok {
			return nil, fmt.Errorf("%w: supplier %q is not configured (KEYWARD_SUPPLIERS is %s)", ErrUnknownOffer, ref.Supplier,
				strings.Join(h.suppliers.Names(), ","))
		}
		if ref.SupplierProductID == "" {
			return nil, fmt.Errorf("%w: an offer of %s needs its supplier_product_id", ErrUnknownOffer, ref.Supplier)
		}
	}
	var out []domain.Offer
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		cur, err := h.catalog.Get(ctx, cmd.SKU)
		if err != nil {
			return err
		}
		for _, ref := range cmd.Offers {
			if _, err := h.offers.Get(ctx, ref); errors.Is(err, domain.ErrNotFound) {
				return fmt.Errorf("%w: %s does not list %q (sync its catalog first)", ErrUnknownOffer, ref.Supplier, ref.SupplierProductID)
			} else if err != nil {
				return fmt.Errorf("read offer %s: %w", ref, err)
			}
		}
		if err := h.offers.SetLinks(ctx, cmd.SKU, cmd.Offers); err != nil {
			return fmt.Errorf("link offers to %s: %w", cmd.SKU, err)
		}
		if out, err = h.offers.Linked(ctx, cmd.SKU); err != nil {
			return fmt.Errorf("read offers of %s: %w", cmd.SKU, err)
		}
		if err := h.followCheapest(ctx, cur, out); err != nil {
			return err
		}
		refs := make([]string, len(out))
		for i, o := range out {
			refs[i] = o.Ref().String()
		}
		_, err = h.audit.Append(ctx, cmd.Actor, AuditProductOffersSet, "product:"+cmd.SKU, map[string]string{"offers": strings.Join(refs, ",")})
		if err != nil {
			return fmt.Errorf("audit product offers: %w", err)
		}
		return nil
	})
	return out, err
}

// followCheapest makes the cheapest of a supplier-bought product's offers
// in stock its source, its stock what they all hold, and reprices it
// unless its price is pinned.
func (h SetProductOffers) followCheapest(ctx context.Context, cur *domain.Product, offers []domain.Offer) error {
	rules, err := h.rules.List(ctx)
	if err != nil {
		return fmt.Errorf("read pricing rules: %w", err)
	}
	pricing, err := domain.NewPricing(h.pricing.Margin, h.pricing.Fee, h.pricing.Ending, rules...)
	if err != nil {
		return err
	}
	p, err := domain.FollowOffers(cur, offers, pricing)
	if err != nil || p.SameListing(cur) {
		return err
	}
	if err := h.catalog.Upsert(ctx, p); err != nil {
		return fmt.Errorf("store product %s: %w", p.SKU(), err)
	}
	return nil
}

// ListProductOffers returns the offers linked to a product.
type ListProductOffers struct {
	catalog ports.CatalogRepository
	offers  ports.OfferRepository
}

// NewListProductOffers wires ListProductOffers.
func NewListProductOffers(catalog ports.CatalogRepository, offers ports.OfferRepository) ListProductOffers {
	require("ListProductOffers", "catalog", catalog, "offers", offers)
	return ListProductOffers{catalog: catalog, offers: offers}
}

// Handle returns the product's offers, cheapest first; domain.ErrNotFound
// for an unknown sku.
func (h ListProductOffers) Handle(ctx context.Context, sku string) ([]domain.Offer, error) {
	if _, err := h.catalog.Get(ctx, sku); err != nil {
		return nil, err
	}
	return h.offers.Linked(ctx, sku)
}
