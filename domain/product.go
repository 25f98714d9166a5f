package domain

import (
	"fmt"
	"strings"
	"time"
)

// SourceKind says where an item's keys come from.
type SourceKind struct{ name string }

// Key sources.
var (
	SourceSupplier = SourceKind{"supplier"}
	SourceOwnStock = SourceKind{"own_stock"}
)

// ParseSourceKind returns the source named s, or ErrInvalidProduct.
func ParseSourceKind(s string) (SourceKind, error) {
	switch s {
	case SourceSupplier.name:
		return SourceSupplier, nil
	case SourceOwnStock.name:
		return SourceOwnStock, nil
	}
	return SourceKind{}, fmt.Errorf("%w: unknown source %q", ErrInvalidProduct, s)
}

// String returns the source's stored name, "" for the zero value.
func (k SourceKind) String() string { return k.name }

// ProductSource is where and at what cost keys for a product are obtained.
type ProductSource struct {
	Kind              SourceKind
	Supplier          string // e.g. "kinguin", "sandbox"; empty for own stock
	SupplierProductID string
	Cost              Money
}

// Product is a sellable catalog entry.
type Product struct {
	sku       string
	name      string
	platform  string
	region    string
	price     Money
	source    ProductSource
	sourcing  Sourcing
	stock     int
	active    bool
	updatedAt time.Time
	pinned    bool
	preorder  bool
	release   time.Time
}

// ProductSnapshot carries a product's fields in and out of storage.
type ProductSnapshot struct {
	SKU       string
	Name      string
	Platform  string
	Region    string
	Price     Money
	Source    ProductSource
	Sourcing  Sourcing // zero: DefaultSourcing of the source
	Stock     int
	Active    bool
	UpdatedAt time.Time
	// PricePinned: an admin set Price; syncs keep it whatever the cost.
	PricePinned bool
	// Preorder: the supplier sells the product before its release; an
	// order for it waits for ReleaseDate (a day; zero when the supplier
	// names none, and always zero for a product that is no pre-order).
	Preorder    bool
	ReleaseDate time.Time
}

// NewProduct validates a catalog entry; it returns ErrInvalidProduct when a
// field is missing or the stock is negative.
func NewProduct(s ProductSnapshot) (*Product, error) {
	s.SKU, s.Name = strings.TrimSpace(s.SKU), strings.TrimSpace(s.Name)
	switch {
	case s.SKU == "" || len(s.SKU) > 64:
		return nil, fmt.Errorf("%w: sku must be 1..64 characters", ErrInvalidProduct)
	case s.Name == "":
		return nil, fmt.Errorf("%w: %s has no name", ErrInvalidProduct, s.SKU)
	case s.Price.Currency().IsZero():
		return nil, fmt.Errorf("%w: %s has no price", ErrInvalidProduct, s.SKU)
	case s.Stock < 0:
		return nil, fmt.Errorf("%w: %s has negative stock", ErrInvalidProduct, s.SKU)
	case s.Source.Kind == (SourceKind{}):
		return nil, fmt.Errorf("%w: %s has no source", ErrInvalidProduct, s.SKU)
	}
	if s.Sourcing.IsZero() {
		s.Sourcing = DefaultSourcing(s.Source.Kind)
	}
	release := ReleaseDay(s.ReleaseDate)
	if !s.Preorder {
		release = time.Time{}
	}
	return &Product{
		sku: s.SKU, name: s.Name, platform: s.Platform, region: s.Region, price: s.Price,
		source: s.Source, sourcing: s.Sourcing, stock: s.Stock, active: s.Active, updatedAt: s.UpdatedAt, pinned: s.PricePinned,
		preorder: s.Preorder, release: release,
	}, nil
}

// SKU returns the product's stock keeping unit, its id in the catalog.
func (p *Product) SKU() string { return p.sku }

// Name returns the product's display name.
func (p *Product) Name() string { return p.name }

// Platform returns where the key activates, such as "Steam".
func (p *Product) Platform() string { return p.platform }

// Region returns where the key may be used, such as "GLOBAL".
func (p *Product) Region() string { return p.region }

// Price returns the sale price of one key.
func (p *Product) Price() Money { return p.price }

// Source returns where keys for the product come from and at what cost.
func (p *Product) Source() ProductSource { return p.source }

// Sourcing returns where the product's keys are taken from.
func (p *Product) Sourcing() Sourcing { return p.sourcing }

// WithSourcing returns a copy of the product sourced as s, whose stock
// counts what s takes: the supplier's stock as stored, our own available
// keys (own), or both.
func (p *Product) WithSourcing(s Sourcing, own int) *Product {
	c := *p
	c.sourcing, c.stock = s, s.Available(p.stock, own)
	return &c
}

// Stock returns how many keys can be sold.
func (p *Product) Stock() int { return p.stock }

// Active reports whether the product is for sale.
func (p *Product) Active() bool { return p.active }

// UpdatedAt returns when the catalog entry last changed.
func (p *Product) UpdatedAt() time.Time { return p.updatedAt }

// PricePinned reports whether an admin set the price: syncs keep it.
func (p *Product) PricePinned() bool { return p.pinned }

// Preorder reports whether the product is sold before its release: its
// keys come after ReleaseDate.
func (p *Product) Preorder() bool { return p.preorder }

// ReleaseDate returns the day a pre-order's keys are released; zero for a
// product that is no pre-order, or when the supplier names no date.
func (p *Product) ReleaseDate() time.Time { return p.release }

// InStock reports whether at least one key can be sold.
func (p *Product) InStock() bool { return p.active && p.stock > 0 }

// CanSell returns ErrProductInactive or ErrOutOfStock when qty keys cannot
// be sold now.
func (p *Product) CanSell(qty int) error {
	if !p.active {
		return fmt.Errorf("%w: %s", ErrProductInactive, p.sku)
	}
	if p.stock < qty {
		return fmt.Errorf("%w: %s has %d, %d asked", ErrOutOfStock, p.sku, p.stock, qty)
	}
	return nil
}

// Snapshot returns the product's fields.
func (p *Product) Snapshot() ProductSnapshot {
	return ProductSnapshot{
		SKU: p.sku, Name: p.name, Platform: p.platform, Region: p.region, Price: p.price,
		Source: p.source, Sourcing: p.sourcing, Stock: p.stock, Active: p.active, UpdatedAt: p.updatedAt, PricePinned: p.pinned,
		Preorder: p.preorder, ReleaseDate: p.release,
	}
}

// SameListing reports whether o lists the same thing as p: every field but
// the change time. A sync does not write a product whose listing is the same.
func (p *Product) SameListing(o *Product) bool {
	a, b := p.Snapshot(), o.Snapshot()
	return a.SKU == b.SKU && a.Name == b.Name && a.Platform == b.Platform && a.Region == b.Region &&
		a.Price.Equal(b.Price) && a.Source.Kind == b.Source.Kind && a.Source.Supplier == b.Source.Supplier &&
		a.Source.SupplierProductID == b.Source.SupplierProductID && a.Source.Cost.Equal(b.Source.Cost) &&
		a.Stock == b.Stock && a.Active == b.Active && a.PricePinned == b.PricePinned &&
		a.Preorder == b.Preorder && a.ReleaseDate.Equal(b.ReleaseDate)
}
