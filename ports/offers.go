package ports

import (
	"context"
	"errors"

	"github.com/keyward/keyward/domain"
)

// OfferLink links a supplier's offer to a product.
type OfferLink struct {
	SKU   string
	Offer domain.OfferRef
}

// OfferRepository stores each supplier's offers and the offers linked to
// each product.
type OfferRepository interface {
	// Upsert inserts or replaces offers by supplier and supplier product id.
	Upsert(ctx context.Context, offers ...domain.Offer) error
	// Get returns one offer or domain.ErrNotFound.
	Get(ctx context.Context, ref domain.OfferRef) (domain.Offer, error)
	// List returns up to limit offers ordered by supplier then supplier
	// product id, after the given one (zero: from the start).
	List(ctx context.Context, after domain.OfferRef, limit int) ([]domain.Offer, error)
	// Link adds links; a link that exists is left alone. domain.ErrNotFound
	// when a product or an offer does not exist.
	Link(ctx context.Context, links ...OfferLink) error
	// SetLinks replaces the offers linked to the product sku with refs (none:
	// it has no offer). domain.ErrNotFound, and nothing changed, when the
	// product or one of the offers does not exist.
	SetLinks(ctx context.Context, sku string, refs []domain.OfferRef) error
	// Linked returns the offers linked to the product sku, cheapest first
	// (domain.SortOffersByCost); none for an unknown sku.
	Linked(ctx context.Context, sku string) ([]domain.Offer, error)
	// LinkedTo returns the skus of the products linked to any of refs,
	// each once, in no set order.
	LinkedTo(ctx context.Context, refs []domain.OfferRef) ([]string, error)
}

// ErrCircuitOpen is wrapped (besides the dependency's own temporary error)
// by a call a circuit breaker refused without making it: the dependency
// was not reached, so nothing was bought there.
var ErrCircuitOpen = errors.New("circuit breaker open")

// SupplierMonitor reads what is known of each supplier besides its
// answers: its circuit breaker and its account's balance.
type SupplierMonitor interface {
	// Breaker returns the state of the supplier's circuit breaker
	// ("closed", "open", "half-open"), "" when it has none.
	Breaker(supplier string) string
	// Balance returns the supplier account's balance; ok is false when the
	// supplier does not tell it, an error when it cannot be read now.
	Balance(ctx context.Context, supplier string) (balance domain.Money, ok bool, err error)
}

// ItemsBoughtCounter counts the items bought from each supplier.
type ItemsBoughtCounter interface {
	// CountItemsBought returns, by supplier name, how many items have a
	// purchase there (a supplier order recorded); a supplier with none may
	// be missing.
	CountItemsBought(ctx context.Context) (map[string]int, error)
}
