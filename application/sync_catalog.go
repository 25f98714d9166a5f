package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SyncCatalog copies the supplier's products into the catalog page by
// page (each page is stored as it arrives, so the shop sells what is
// imported while the rest follows), priced at cost plus a margin, rounded
// up to the next .99 the way shops price. One sync runs at a time across
// processes.
type SyncCatalog struct {
	supplier ports.Supplier
	catalog  ports.CatalogRepository
	locks    ports.Locks
	clock    ports.Clock
	// Margin is the markup on cost, e.g. 0.10 for 10%.
	margin decimal.Decimal
}

// NewSyncCatalog wires SyncCatalog; it panics when a dependency is nil.
func NewSyncCatalog(supplier ports.Supplier, catalog ports.CatalogRepository, locks ports.Locks, clock ports.Clock, margin decimal.Decimal) SyncCatalog {
	require("SyncCatalog", "supplier", supplier, "catalog", catalog, "locks", locks, "clock", clock)
	return SyncCatalog{supplier: supplier, catalog: catalog, locks: locks, clock: clock, margin: margin}
}

// SyncCatalogCommand says what to import.
type SyncCatalogCommand struct {
	// UpdatedSince imports only products the supplier changed since
	// (zero: every product).
	UpdatedSince time.Time
	// OnlyIfEmpty does nothing when the catalog has a product (the
	// start-up import).
	OnlyIfEmpty bool
	// Cursor resumes a sync where an earlier one stopped (its Next).
	Cursor string
	// MaxPages stops after that many supplier pages (0: all), so that a
	// caller with a deadline imports a large catalog in steps.
	MaxPages int
}

// SyncCatalogResult counts what a sync did.
type SyncCatalogResult struct {
	Products int  // products stored
	Pages    int  // supplier pages read
	Skipped  bool // OnlyIfEmpty and the catalog was not empty
	// Next is the cursor to resume from when MaxPages stopped the sync;
	// "" when the whole catalog was read.
	Next string
}

// syncPageSize is how many products one supplier page asks for.
const syncPageSize = 100

// Handle imports the supplier's catalog. It returns what was stored so far
// with an error wrapping domain.ErrConflict when another sync is running,
// ErrUnavailable when the supplier cannot answer now, the supplier's
// ports.ErrSupplierPermanent when it refuses (a bad cursor, credentials),
// or the catalog's error when a page cannot be stored (the pages before a
// failure stay stored).
func (h SyncCatalog) Handle(ctx context.Context, cmd SyncCatalogCommand) (SyncCatalogResult, error) {
	var res SyncCatalogResult
	release, ok, err := h.locks.TryLock(ctx, "catalog-sync")
	if err != nil {
		return res, fmt.Errorf("catalog sync lock: %w", err)
	}
	if !ok {
		return res, fmt.Errorf("%w: a catalog sync is already running", domain.ErrConflict)
	}
	defer release()
	if cmd.OnlyIfEmpty {
		some, err := h.catalog.List(ctx, "", 1)
		if err != nil {
			return res, fmt.Errorf("read catalog: %w", err)
		}
		if len(some) > 0 {
			res.Skipped = true
			return res, nil
		}
	}
	q := ports.ProductQuery{Limit: syncPageSize, UpdatedSince: cmd.UpdatedSince, Cursor: cmd.Cursor}
	for {
		page, err := h.supplier.Products(ctx, q)
		if errors.Is(err, ports.ErrSupplierPermanent) {
			return res, fmt.Errorf("list supplier products (page %d): %w", res.Pages+1, err)
		}
		if err != nil {
			return res, fmt.Errorf("%w: list supplier products (page %d): %w", ErrUnavailable, res.Pages+1, err)
		}
		res.Pages++
		products := make([]*domain.Product, 0, len(page.Products))
		for _, sp := range page.Products {
			p, err := h.product(sp, true)
			if err != nil {
				return res, err
			}
			products = append(products, p)
		}
		if err := h.catalog.Upsert(ctx, products...); err != nil {
			return res, fmt.Errorf("store catalog: %w", err)
		}
		res.Products += len(products)
		if page.Next == "" {
			return res, nil
		}
		if cmd.MaxPages > 0 && res.Pages >= cmd.MaxPages {
			res.Next = page.Next
			return res, nil
		}
		q.Cursor = page.Next
	}
}

// Refresh reads one product from the supplier again and stores it with
// its current cost and stock, keeping whether it is active; a product the
// supplier no longer sells stays listed with no stock. It does nothing for
// a product that is not in the catalog or not from this supplier, or whose
// catalog entry is as new as asOf or newer (a stale notice), and reports
// whether it stored anything. Supplier products are listed under their
// supplier id as sku.
func (h SyncCatalog) Refresh(ctx context.Context, productID string, asOf time.Time) (bool, error) {
	cur, err := h.catalog.Get(ctx, productID)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read product %s: %w", productID, err)
	}
	if cur.Source().Supplier != h.supplier.Name() || !asOf.IsZero() && !cur.UpdatedAt().Before(asOf) {
		return false, nil
	}
	snap := cur.Snapshot()
	sp, err := h.supplier.Product(ctx, cur.Source().SupplierProductID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		snap.Stock, snap.UpdatedAt = 0, later(asOf, h.clock.Now())
		p, err := domain.NewProduct(snap)
		if err != nil {
			return false, err
		}
		return true, h.store(ctx, p)
	case err != nil:
		return false, fmt.Errorf("read supplier product %s: %w", productID, err)
	}
	sp.UpdatedAt = later(sp.UpdatedAt, asOf)
	p, err := h.product(sp, snap.Active)
	if err != nil {
		return false, err
	}
	return true, h.store(ctx, p)
}

func (h SyncCatalog) store(ctx context.Context, p *domain.Product) error {
	if err := h.catalog.Upsert(ctx, p); err != nil {
		return fmt.Errorf("store product %s: %w", p.SKU(), err)
	}
	return nil
}

// product is the catalog entry of a supplier product. Its UpdatedAt is the
// supplier's change time when known, so that older notices are recognised.
func (h SyncCatalog) product(sp ports.SupplierProduct, active bool) (*domain.Product, error) {
	price, err := domain.MoneyFromDecimal(retailPrice(sp.Cost.Amount(), h.margin), sp.Cost.Currency())
	if err != nil {
		return nil, fmt.Errorf("price %s: %w", sp.ID, err)
	}
	updated := sp.UpdatedAt
	if updated.IsZero() {
		updated = h.clock.Now()
	}
	return domain.NewProduct(domain.ProductSnapshot{
		SKU: sp.ID, Name: sp.Name, Platform: sp.Platform, Region: sp.Region, Price: price,
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: h.supplier.Name(), SupplierProductID: sp.ID, Cost: sp.Cost},
		Stock:  sp.Qty, Active: active, UpdatedAt: updated,
	})
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// retailPrice is cost × (1 + margin) rounded up to the next x.99; never
// below cost × (1 + margin).
func retailPrice(cost, margin decimal.Decimal) decimal.Decimal {
	floor := cost.Mul(decimal.NewFromInt(1).Add(margin))
	cent := decimal.New(1, -2)
	charm := floor.Ceil().Sub(cent)
	if charm.LessThan(floor) {
		charm = charm.Add(decimal.NewFromInt(1))
	}
	return charm
}
