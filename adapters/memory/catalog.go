package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/keyward/keyward/domain"
)

// Catalog is a CatalogRepository in memory.
type Catalog struct {
	mu       sync.RWMutex
	products map[string]domain.ProductSnapshot
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog { return &Catalog{products: map[string]domain.ProductSnapshot{}} }

// Upsert inserts or replaces products by sku.
func (c *Catalog) Upsert(_ context.Context, ps ...*domain.Product) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		c.products[p.SKU()] = p.Snapshot()
	}
	return nil
}

// Get returns the product or domain.ErrNotFound.
func (c *Catalog) Get(_ context.Context, sku string) (*domain.Product, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.products[sku]
	if !ok {
		return nil, fmt.Errorf("%w: product %q", domain.ErrNotFound, sku)
	}
	return domain.NewProduct(s)
}

// List returns up to limit products by sku after afterSKU.
func (c *Catalog) List(_ context.Context, afterSKU string, limit int) ([]*domain.Product, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	skus := make([]string, 0, len(c.products))
	for sku := range c.products {
		if sku > afterSKU {
			skus = append(skus, sku)
		}
	}
	sort.Strings(skus)
	if limit > 0 && len(skus) > limit {
		skus = skus[:limit]
	}
	out := make([]*domain.Product, 0, len(skus))
	for _, sku := range skus {
		p, err := domain.NewProduct(c.products[sku])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
