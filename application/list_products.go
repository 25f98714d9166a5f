package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ListProducts pages through the catalog by sku.
type ListProducts struct {
	catalog ports.CatalogRepository
}

// NewListProducts wires ListProducts; it panics when a dependency is nil.
func NewListProducts(catalog ports.CatalogRepository) ListProducts {
	require("ListProducts", "catalog", catalog)
	return ListProducts{catalog: catalog}
}

// ProductPage is one page and the cursor of the next ("" at the end).
type ProductPage struct {
	Items      []*domain.Product
	NextCursor string
}

// Handle returns up to limit products after the cursor (a sku).
func (h ListProducts) Handle(ctx context.Context, after string, limit int) (ProductPage, error) {
	ps, err := h.catalog.List(ctx, after, limit+1)
	if err != nil {
		return ProductPage{}, err
	}
	page := ProductPage{Items: ps}
	if len(ps) > limit {
		page.Items = ps[:limit]
		page.NextCursor = ps[limit-1].SKU()
	}
	return page, nil
}
