package domain

import (
	"fmt"
	"time"
)

// StockKeyID identifies one key of our own stock.
type StockKeyID string

// StockKeyStatus is where a stock key is: available to sell, assigned to an
// order item, or withdrawn by an admin. The zero value is invalid.
type StockKeyStatus struct{ name string }

// Stock key statuses; a key leaves available once and never comes back.
var (
	StockAvailable = StockKeyStatus{"available"}
	StockAssigned  = StockKeyStatus{"assigned"}
	StockWithdrawn = StockKeyStatus{"withdrawn"}
)

// ParseStockKeyStatus returns the status named s, or ErrInvalidProduct.
func ParseStockKeyStatus(s string) (StockKeyStatus, error) {
	for _, st := range []StockKeyStatus{StockAvailable, StockAssigned, StockWithdrawn} {
		if st.name == s {
			return st, nil
		}
	}
	return StockKeyStatus{}, fmt.Errorf("%w: unknown stock key status %q", ErrInvalidProduct, s)
}

// String returns the status's stored name.
func (s StockKeyStatus) String() string { return s.name }

// StockKey is one key of our own stock as stored: sealed (never plaintext)
// under the product's stock data key, and known by a keyed hash (HMAC under
// a vault-held key) of its canonical form (CanonicalKeyText for text) that
// stays after the key is sold or withdrawn, so the same key is never
// stocked twice, however it is spelt. Sealed is nil once the key has left
// the stock (it then lives sealed under its order's data key).
type StockKey struct {
	ID   StockKeyID
	SKU  string
	Hash []byte
	// LegacyHash is a new key's hash in the form keys were hashed in
	// before the canonical one (the key as typed): keys sold or withdrawn
	// before then are known by it only. It is looked up, never stored.
	LegacyHash  []byte
	Sealed      []byte
	ContentType string
	Status      StockKeyStatus
	ItemID      string // the order item it was assigned to
	CreatedAt   time.Time
}

// StockCounts is how many keys of a product are in each status.
type StockCounts struct {
	Available int
	Assigned  int
	Withdrawn int
}
