package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// GetProduct reads one catalog entry.
type GetProduct struct {
	catalog ports.CatalogRepository
}

// NewGetProduct wires GetProduct; it panics when a dependency is nil.
func NewGetProduct(catalog ports.CatalogRepository) GetProduct {
	require("GetProduct", "catalog", catalog)
	return GetProduct{catalog: catalog}
}

// Handle returns the product or domain.ErrNotFound.
func (h GetProduct) Handle(ctx context.Context, sku string) (*domain.Product, error) {
	return h.catalog.Get(ctx, sku)
}
