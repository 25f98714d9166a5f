package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// GetProduct reads one catalog entry.
type GetProduct struct {
	Catalog ports.CatalogRepository
}

// Handle returns the product or domain.ErrNotFound.
func (h GetProduct) Handle(ctx context.Context, sku string) (*domain.Product, error) {
	return h.Catalog.Get(ctx, sku)
}
