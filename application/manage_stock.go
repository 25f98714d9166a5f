package application

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// StockLevels is a product's own stock as an admin sees it: counts only,
// never a key.
type StockLevels struct {
	SKU      string
	Sourcing domain.Sourcing
	Counts   domain.StockCounts
}

// ListStock reads a product's stock counts and sourcing mode.
type ListStock struct {
	catalog ports.CatalogRepository
	stock   ports.StockRepository
}

// NewListStock wires ListStock; it panics when a dependency is nil.
func NewListStock(catalog ports.CatalogRepository, stock ports.StockRepository) ListStock {
	require("ListStock", "catalog", catalog, "stock", stock)
	return ListStock{catalog: catalog, stock: stock}
}

// Handle returns the product's stock levels; domain.ErrNotFound for an
// unknown product.
func (h ListStock) Handle(ctx context.Context, sku string) (StockLevels, error) {
	p, err := h.catalog.Get(ctx, sku)
	if err != nil {
		return StockLevels{}, fmt.Errorf("product %s: %w", sku, err)
	}
	m, err := sourcingOf(ctx, h.stock, sku, p.Source().Kind)
	if err != nil {
		return StockLevels{}, err
	}
	c, err := h.stock.Counts(ctx, sku)
	if err != nil {
		return StockLevels{}, fmt.Errorf("stock of %s: %w", sku, err)
	}
	return StockLevels{SKU: sku, Sourcing: m, Counts: c}, nil
}

// WithdrawStock takes one available key out of a product's stock, audited.
type WithdrawStock struct {
	tx    ports.Transactor
	stock ports.StockRepository
	audit ports.AuditLog
	clock ports.Clock
}

// NewWithdrawStock wires WithdrawStock; it panics when a dependency is nil.
func NewWithdrawStock(tx ports.Transactor, stock ports.StockRepository, audit ports.AuditLog, clock ports.Clock) WithdrawStock {
	require("WithdrawStock", "tx", tx, "stock", stock, "audit", audit, "clock", clock)
	return WithdrawStock{tx: tx, stock: stock, audit: audit, clock: clock}
}

// Handle withdraws the key; domain.ErrNotFound for an unknown key (or one
// of another product), domain.ErrInvalidTransition for a key already sold
// or withdrawn.
func (h WithdrawStock) Handle(ctx context.Context, sku string, id domain.StockKeyID, actor string) error {
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := h.stock.Withdraw(ctx, sku, id, h.clock.Now()); err != nil {
			return err
		}
		_, err := h.audit.Append(ctx, actor, AuditStockWithdrawn, "product:"+sku, map[string]string{"stock_key_id": string(id)})
		return err
	})
	if err != nil {
		return fmt.Errorf("withdraw stock key %s: %w", id, err)
	}
	return nil
}

// SetSourcing chooses where a product's keys come from, audited.
type SetSourcing struct {
	tx      ports.Transactor
	catalog ports.CatalogRepository
	stock   ports.StockRepository
	audit   ports.AuditLog
}

// NewSetSourcing wires SetSourcing; it panics when a dependency is nil.
func NewSetSourcing(tx ports.Transactor, catalog ports.CatalogRepository, stock ports.StockRepository, audit ports.AuditLog) SetSourcing {
	require("SetSourcing", "tx", tx, "catalog", catalog, "stock", stock, "audit", audit)
	return SetSourcing{tx: tx, catalog: catalog, stock: stock, audit: audit}
}

// Handle stores the mode; domain.ErrNotFound for an unknown product.
func (h SetSourcing) Handle(ctx context.Context, sku string, m domain.Sourcing, actor string) error {
	if m.IsZero() {
		return fmt.Errorf("%w: no sourcing mode", domain.ErrInvalidProduct)
	}
	if _, err := h.catalog.Get(ctx, sku); err != nil {
		return fmt.Errorf("product %s: %w", sku, err)
	}
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := h.stock.SetSourcing(ctx, sku, m); err != nil {
			return err
		}
		_, err := h.audit.Append(ctx, actor, AuditSourcingSet, "product:"+sku, map[string]string{"sourcing": m.String()})
		return err
	})
	if err != nil {
		return fmt.Errorf("set sourcing of %s: %w", sku, err)
	}
	return nil
}

// sourcedCatalog is the catalog as buyers see it: each product with its
// sourcing mode and a stock that counts our own available keys where the
// mode takes them. It only reads (a product it returns is never saved).
type sourcedCatalog struct {
	ports.CatalogRepository
	stock ports.StockRepository
}

// Get returns the product with its sourcing and stock; see CatalogRepository.
func (c sourcedCatalog) Get(ctx context.Context, sku string) (*domain.Product, error) {
	p, err := c.CatalogRepository.Get(ctx, sku)
	if err != nil {
		return nil, err
	}
	return c.source(ctx, p)
}

// List returns products with their sourcing and stock; see CatalogRepository.
func (c sourcedCatalog) List(ctx context.Context, afterSKU string, limit int) ([]*domain.Product, error) {
	ps, err := c.CatalogRepository.List(ctx, afterSKU, limit)
	if err != nil {
		return nil, err
	}
	for i, p := range ps {
		if ps[i], err = c.source(ctx, p); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// Find returns the products q asks for with their sourcing and stock; see
// CatalogRepository. Whether a product is in stock depends on our own keys
// too, so the in-stock filter is applied here, after sourcing, reading on
// until q.Limit products match or the catalog ends.
func (c sourcedCatalog) Find(ctx context.Context, q ports.CatalogQuery) ([]*domain.Product, error) {
	want := q.InStock
	q.InStock = nil
	var out []*domain.Product
	for {
		ps, err := c.CatalogRepository.Find(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			sp, err := c.source(ctx, p)
			if err != nil {
				return nil, err
			}
			if want == nil || sp.InStock() == *want {
				out = append(out, sp)
			}
			if q.Limit > 0 && len(out) == q.Limit {
				return out, nil
			}
		}
		if q.Limit <= 0 || len(ps) < q.Limit {
			return out, nil
		}
		q.After = ps[len(ps)-1].SKU()
	}
}

func (c sourcedCatalog) source(ctx context.Context, p *domain.Product) (*domain.Product, error) {
	m, err := sourcingOf(ctx, c.stock, p.SKU(), p.Source().Kind)
	if err != nil {
		return nil, err
	}
	own := 0
	if m.UsesStock() {
		n, err := c.stock.Counts(ctx, p.SKU())
		if err != nil {
			return nil, fmt.Errorf("stock of %s: %w", p.SKU(), err)
		}
		own = n.Available
	}
	return p.WithSourcing(m, own), nil
}
