package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// OfferRef names one supplier's offer: the supplier and its product id.
type OfferRef struct {
	Supplier          string
	SupplierProductID string
}

// String returns the reference as supplier/product id, for reasons and logs.
func (r OfferRef) String() string { return r.Supplier + "/" + r.SupplierProductID }

// Offer is what one supplier sells of a product, as its catalog says:
// kept apart from keyward's product (its SKU, name, price and sourcing),
// which an admin links to one offer or several.
type Offer struct {
	Supplier          string
	SupplierProductID string
	Name              string
	Cost              Money // what one key costs us
	Stock             int
	Region            string
	Platform          string
	// Preorder: the keys come after the game's release.
	Preorder  bool
	UpdatedAt time.Time // when the supplier last changed it; zero when unknown
}

// Ref returns the offer's reference.
func (o Offer) Ref() OfferRef {
	return OfferRef{Supplier: o.Supplier, SupplierProductID: o.SupplierProductID}
}

// Validate returns ErrInvalidProduct when a field an offer needs is
// missing or out of range.
func (o Offer) Validate() error {
	switch {
	case o.Supplier == "" || o.SupplierProductID == "":
		return fmt.Errorf("%w: an offer needs a supplier and a supplier product id", ErrInvalidProduct)
	case o.Cost.Currency().IsZero():
		return fmt.Errorf("%w: offer %s has no cost", ErrInvalidProduct, o.Ref())
	case o.Stock < 0:
		return fmt.Errorf("%w: offer %s has negative stock", ErrInvalidProduct, o.Ref())
	}
	return nil
}

// SortOffersByCost orders offers by cost ascending (cheapest first); offers
// of one cost keep supplier then product id order, so the order is stable.
// Offers in different currencies are ordered by currency code.
func SortOffersByCost(os []Offer) {
	slices.SortStableFunc(os, func(a, b Offer) int {
		if a.Cost.Currency() == b.Cost.Currency() {
			if c := a.Cost.Amount().Cmp(b.Cost.Amount()); c != 0 {
				return c
			}
		} else {
			return strings.Compare(a.Cost.Currency().String(), b.Cost.Currency().String())
		}
		if c := strings.Compare(a.Supplier, b.Supplier); c != 0 {
			return c
		}
		return strings.Compare(a.SupplierProductID, b.SupplierProductID)
	})
}

// SourceOffer returns the product's own source as an offer reference, and
// false for a product with no supplier source (own stock).
func (p *Product) SourceOffer() (OfferRef, bool) {
	s := p.source
	if s.Kind != SourceSupplier || s.Supplier == "" || s.SupplierProductID == "" {
		return OfferRef{}, false
	}
	return OfferRef{Supplier: s.Supplier, SupplierProductID: s.SupplierProductID}, true
}

// FollowOffers returns the supplier-bought product p as its linked offers
// (cheapest first) make it: its source is the cheapest offer in stock
// (the cheapest when none is), its stock what all of them hold, and its
// price, unless pinned, the source's cost priced by pricing. A product of
// own stock, or without offers, is returned as it is.
func FollowOffers(p *Product, offers []Offer, pricing Pricing) (*Product, error) {
	s := p.Snapshot()
	if s.Source.Kind != SourceSupplier || len(offers) == 0 {
		return p, nil
	}
	best, stock := offers[0], 0
	found := false
	for _, o := range offers {
		stock += max(o.Stock, 0)
		if !found && o.Stock > 0 {
			best, found = o, true
		}
	}
	s.Source = ProductSource{Kind: SourceSupplier, Supplier: best.Supplier, SupplierProductID: best.SupplierProductID, Cost: best.Cost}
	s.Stock = stock
	if !s.PricePinned {
		price, err := pricing.SalePrice(s.SKU, s.Platform, best.Cost)
		if err != nil {
			return nil, err
		}
		s.Price = price
	}
	return NewProduct(s)
}
