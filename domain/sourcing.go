package domain

import "fmt"

// Sourcing says where a product's keys come from, in order of preference.
// The zero value is invalid; values come from the package variables or
// ParseSourcing.
type Sourcing struct{ name string }

// Sourcing modes.
var (
	SourcingStockOnly         = Sourcing{"stock_only"}          // only keys we hold
	SourcingSupplierOnly      = Sourcing{"supplier_only"}       // always bought
	SourcingStockThenSupplier = Sourcing{"stock_then_supplier"} // our keys first, then bought
)

// Sourcings lists every mode.
var Sourcings = []Sourcing{SourcingStockOnly, SourcingSupplierOnly, SourcingStockThenSupplier}

// ParseSourcing returns the mode named s, or ErrInvalidProduct.
func ParseSourcing(s string) (Sourcing, error) {
	for _, m := range Sourcings {
		if m.name == s {
			return m, nil
		}
	}
	return Sourcing{}, fmt.Errorf("%w: unknown sourcing %q (want stock_only, supplier_only or stock_then_supplier)", ErrInvalidProduct, s)
}

// DefaultSourcing is the mode of a product nobody configured: keys the shop
// holds are sold first, then bought (stock_then_supplier). A product that is
// only held has no supplier to buy from, so its stock is all there is
// (stock_only): the same order of preference with nothing after the stock.
func DefaultSourcing(k SourceKind) Sourcing {
	if k == SourceOwnStock {
		return SourcingStockOnly
	}
	return SourcingStockThenSupplier
}

// String returns the mode's name, "" for the zero value.
func (s Sourcing) String() string { return s.name }

// IsZero reports whether s is the zero value (no mode).
func (s Sourcing) IsZero() bool { return s == Sourcing{} }

// UsesStock reports whether keys are taken from our own stock.
func (s Sourcing) UsesStock() bool { return s != SourcingSupplierOnly && !s.IsZero() }

// UsesSupplier reports whether keys may be bought from the supplier.
func (s Sourcing) UsesSupplier() bool { return s != SourcingStockOnly && !s.IsZero() }

// Available is how many keys can be sold given the supplier's stock and our
// own available keys.
func (s Sourcing) Available(supplier, own int) int {
	n := 0
	if s.UsesSupplier() {
		n += max(supplier, 0)
	}
	if s.UsesStock() {
		n += max(own, 0)
	}
	return n
}
