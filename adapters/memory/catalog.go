package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
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

// GetMany returns the products of skus that exist.
func (c *Catalog) GetMany(_ context.Context, skus []string) ([]*domain.Product, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*domain.Product, 0, len(skus))
	for _, sku := range skus {
		if s, ok := c.products[sku]; ok {
			p, err := domain.NewProduct(s)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// Find returns up to q.Limit products by sku after q.After matching q.
func (c *Catalog) Find(_ context.Context, q ports.CatalogQuery) ([]*domain.Product, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	search := strings.ToLower(q.Search)
	var out []*domain.Product
	for _, sku := range slices.Sorted(maps.Keys(c.products)) {
		s := c.products[sku]
		if sku <= q.After || !strings.Contains(strings.ToLower(s.Name), search) ||
			q.Platform != "" && !strings.EqualFold(s.Platform, q.Platform) {
			continue
		}
		p, err := domain.NewProduct(s)
		if err != nil {
			return nil, err
		}
		if q.InStock != nil && p.InStock() != *q.InStock {
			continue
		}
		out = append(out, p)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}
