package application

import (
	"context"
	"fmt"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ListProducts pages through the catalog by sku, filtered by name,
// platform and availability.
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

// ProductFilter narrows a listing; zero fields do not filter.
type ProductFilter struct {
	Search   string // part of the name, any case
	Platform string // the platform, any case
	InStock  *bool
}

// Handle returns up to limit products after the cursor (a sku) that match
// f. It returns ErrInvalidFilter for a search term over 100 characters,
// the catalog's error otherwise.
func (h ListProducts) Handle(ctx context.Context, after string, limit int, f ...ProductFilter) (ProductPage, error) {
	q := ports.CatalogQuery{After: after, Limit: limit + 1}
	if len(f) > 0 {
		q.Search, q.Platform, q.InStock = strings.TrimSpace(f[0].Search), strings.TrimSpace(f[0].Platform), f[0].InStock
	}
	if len(q.Search) > 100 || len(q.Platform) > 100 {
		return ProductPage{}, fmt.Errorf("%w: q and platform take at most 100 characters", ErrInvalidFilter)
	}
	ps, err := h.catalog.Find(ctx, q)
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
