package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SyncCatalog copies the supplier's products into the catalog page by
// page, priced by the pricing rules, and records each run. A page is read
// against what the catalog holds and only the products whose listing
// changed are written, in one batch; a full run that reads the whole
// catalog takes every product of the supplier it did not see out of stock
// (never deleting it: orders refer to it). An incremental run reads what
// the supplier changed since the last successful run started, less an
// overlap. One sync runs at a time across processes. A run reads one
// supplier: the one its command names, else the first configured; each
// supplier's runs are recorded under its name, its own baseline.
type SyncCatalog struct {
	suppliers ports.Suppliers
	supplier  ports.Supplier // the one a run reads; set by Handle and Refresh
	catalog   ports.CatalogRepository
	// offers, when set, keeps every product read as its supplier's offer,
	// and links each product a run creates to its own offer.
	offers  ports.OfferRepository
	runs    ports.SyncRunRepository
	rules   ports.PricingRules
	locks   ports.Locks
	clock   ports.Clock
	ids     ports.IDs
	pricing PricingSettings
	log     *slog.Logger
}

// PricingSettings are the operator's pricing defaults; stored rules
// override the margin per product or per platform.
type PricingSettings struct {
	Margin decimal.Decimal // default markup on cost, e.g. 0.10
	Fee    decimal.Decimal // fixed amount added after the margin
	Ending domain.PriceEnding
}

// NewSyncCatalog wires SyncCatalog; it panics when a dependency is nil or
// there is no supplier.
func NewSyncCatalog(suppliers ports.Suppliers, catalog ports.CatalogRepository, runs ports.SyncRunRepository, rules ports.PricingRules,
	locks ports.Locks, clock ports.Clock, ids ports.IDs, pricing PricingSettings, log *slog.Logger) SyncCatalog {
	requireSuppliers("SyncCatalog", suppliers)
	require("SyncCatalog", "catalog", catalog, "syncRuns", runs, "pricingRules", rules, "locks", locks,
		"clock", clock, "ids", ids, "log", log)
	return SyncCatalog{suppliers: suppliers, supplier: suppliers[0].Supplier, catalog: catalog, runs: runs, rules: rules, locks: locks, clock: clock, ids: ids,
		pricing: pricing, log: log}
}

// SyncCatalogCommand says what to import.
type SyncCatalogCommand struct {
	// Supplier names the supplier to read ("": the first configured).
	// Each supplier's runs are its own: its incremental runs read from its
	// last successful one.
	Supplier string
	// Mode is full or incremental; zero chooses: incremental after a
	// succeeded full run younger than FullSyncEvery, full otherwise.
	Mode domain.SyncMode
	// UpdatedSince makes an incremental run read from then instead of
	// from the last successful run.
	UpdatedSince time.Time
	// OnlyIfEmpty does nothing when the catalog has a product (the
	// start-up import), and records no run.
	OnlyIfEmpty bool
	// Cursor resumes a sync where an earlier one stopped (its Next).
	Cursor string
	// MaxPages stops after that many supplier pages (0: all), so that a
	// caller with a deadline imports a large catalog in steps.
	MaxPages int
}

// SyncCatalogResult counts what a sync did.
type SyncCatalogResult struct {
	RunID    string
	Mode     domain.SyncMode
	Counts   domain.SyncCounts
	Products int  // supplier products read (Counts.Seen)
	Pages    int  // supplier pages read
	Skipped  bool // OnlyIfEmpty and the catalog was not empty
	// Next is the cursor to resume from when MaxPages stopped the sync;
	// "" when the whole catalog was read.
	Next string
}

const (
	// syncPageSize is how many products one supplier page asks for.
	syncPageSize = 100
	// SyncOverlap is read again before the last successful run's start:
	// the supplier's clock and its indexing may lag ours.
	SyncOverlap = 5 * time.Minute
	// FullSyncEvery is how old the last full run may be before a chosen
	// mode is full again (vanished products are only seen by full runs).
	FullSyncEvery = 24 * time.Hour
	// syncLock is the Locks name that keeps to one run at a time of the
	// first supplier; another's adds ":" and its name.
	syncLock = "catalog-sync"
)

// Handle runs one sync and records it. It returns what was done so far
// with an error wrapping domain.ErrConflict when another sync is running,
// ErrUnavailable when the supplier cannot answer now, the supplier's
// ports.ErrSupplierPermanent when it refuses (a bad cursor, credentials),
// or the catalog's error when a page cannot be stored (the pages before a
// failure stay stored). A product that cannot be listed is counted as an
// error of the run, which goes on.
func (h SyncCatalog) Handle(ctx context.Context, cmd SyncCatalogCommand) (SyncCatalogResult, error) {
	var res SyncCatalogResult
	if cmd.Supplier != "" {
		r, ok := h.suppliers.Get(cmd.Supplier)
		if !ok {
			return res, fmt.Errorf("%w: supplier %q is not configured (KEYWARD_SUPPLIERS is %v)", domain.ErrNotFound, cmd.Supplier, h.suppliers.Names())
		}
		h.supplier = r.Supplier
	}
	// One run at a time per supplier: each has its own schedule.
	lock := syncLock
	if h.supplier.Name() != h.suppliers[0].Supplier.Name() {
		lock += ":" + h.supplier.Name()
	}
	release, ok, err := h.locks.TryLock(ctx, lock)
	if err != nil {
		return res, fmt.Errorf("catalog sync lock: %w", err)
	}
	if !ok {
		return res, fmt.Errorf("%w: a catalog sync of %s is already running", domain.ErrConflict, h.supplier.Name())
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
	mode, since, err := h.plan(ctx, cmd)
	if err != nil {
		return res, err
	}
	run, err := domain.StartSupplierSyncRun(h.ids.NewID(), h.supplier.Name(), mode, since, h.clock.Now())
	if err != nil {
		return res, err
	}
	res.RunID, res.Mode = run.ID(), mode
	if err := h.runs.Save(ctx, run); err != nil {
		return res, fmt.Errorf("record sync run: %w", err)
	}
	seen := map[string]bool{}
	err = h.read(ctx, cmd, run, since, seen, &res)
	if err == nil && mode == domain.SyncFull && cmd.Cursor == "" && res.Next == "" {
		err = h.takeVanishedOutOfStock(ctx, run, seen)
	}
	res.Counts, res.Products = run.Counts(), run.Counts().Seen
	// The record outlives a cancelled caller: it says how far the run got.
	ctx = context.WithoutCancel(ctx)
	// A run that read part of the catalog (stopped at MaxPages, resumed
	// from a cursor) is no baseline for incremental runs.
	if ferr := run.Finish(h.clock.Now(), res.Next != "" || cmd.Cursor != "", err); ferr != nil {
		return res, ferr
	}
	if serr := h.runs.Save(ctx, run); serr != nil {
		return res, errors.Join(err, fmt.Errorf("record sync run %s: %w", run.ID(), serr))
	}
	h.log.InfoContext(ctx, "catalog sync", "run_id", run.ID(), "supplier", h.supplier.Name(), "mode", mode.String(), "status", run.Status().String(),
		"seen", res.Counts.Seen, "created", res.Counts.Created, "changed", res.Counts.Changed, "deactivated", res.Counts.Deactivated)
	return res, err
}

// plan returns the mode and, for an incremental run, the time to read
// changes from.
func (h SyncCatalog) plan(ctx context.Context, cmd SyncCatalogCommand) (domain.SyncMode, time.Time, error) {
	if !cmd.UpdatedSince.IsZero() && cmd.Mode != domain.SyncFull {
		return domain.SyncIncremental, cmd.UpdatedSince, nil
	}
	if cmd.Mode == domain.SyncFull {
		return domain.SyncFull, time.Time{}, nil
	}
	full, err := h.lastSucceeded(ctx, domain.SyncFull)
	if err != nil {
		return domain.SyncMode{}, time.Time{}, err
	}
	if full.IsZero() || cmd.Mode == (domain.SyncMode{}) && h.clock.Now().Sub(full) > FullSyncEvery {
		return domain.SyncFull, time.Time{}, nil
	}
	inc, err := h.lastSucceeded(ctx, domain.SyncIncremental)
	if err != nil {
		return domain.SyncMode{}, time.Time{}, err
	}
	return domain.SyncIncremental, later(full, inc).Add(-SyncOverlap), nil
}

// lastSucceeded returns when the last succeeded run of mode started, zero
// when none did.
func (h SyncCatalog) lastSucceeded(ctx context.Context, mode domain.SyncMode) (time.Time, error) {
	// Runs recorded before runs named their supplier were the first's.
	first := h.supplier.Name() == h.suppliers[0].Supplier.Name()
	r, err := h.runs.LastSucceededOf(ctx, h.supplier.Name(), first, mode)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return time.Time{}, nil
	case err != nil:
		return time.Time{}, fmt.Errorf("read sync runs: %w", err)
	}
	return r.StartedAt(), nil
}

// read goes through the supplier's pages, storing each as it arrives and
// noting the skus seen.
func (h SyncCatalog) read(ctx context.Context, cmd SyncCatalogCommand, run *domain.SyncRun, since time.Time, seen map[string]bool, res *SyncCatalogResult) error {
	pricing, err := h.loadPricing(ctx)
	if err != nil {
		return err
	}
	q := ports.ProductQuery{Limit: syncPageSize, UpdatedSince: since, Cursor: cmd.Cursor}
	for {
		page, err := h.supplier.Products(ctx, q)
		if errors.Is(err, ports.ErrSupplierPermanent) {
			return fmt.Errorf("list supplier products (page %d): %w", res.Pages+1, err)
		}
		if err != nil {
			return fmt.Errorf("%w: list supplier products (page %d): %w", ErrUnavailable, res.Pages+1, err)
		}
		res.Pages++
		for _, sp := range page.Products {
			seen[sp.ID] = true
		}
		counts, err := h.storePage(ctx, pricing, page.Products, run)
		run.Add(counts)
		if err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		if cmd.MaxPages > 0 && res.Pages >= cmd.MaxPages {
			res.Next = page.Next
			return nil
		}
		if err := h.runs.Save(ctx, run); err != nil {
			return fmt.Errorf("record sync progress: %w", err)
		}
		q.Cursor = page.Next
	}
}

// storePage writes, in one batch, the products of a page that are new or
// whose listing changed; run collects the products that cannot be listed.
func (h SyncCatalog) storePage(ctx context.Context, pricing domain.Pricing, sps []ports.SupplierProduct, run *domain.SyncRun) (domain.SyncCounts, error) {
	c := domain.SyncCounts{Seen: len(sps)}
	skus := make([]string, len(sps))
	for i, sp := range sps {
		skus[i] = sp.ID
	}
	current, err := h.catalog.GetMany(ctx, skus)
	if err != nil {
		return c, fmt.Errorf("read catalog: %w", err)
	}
	known := make(map[string]*domain.Product, len(current))
	for _, p := range current {
		known[p.SKU()] = p
	}
	var writes []*domain.Product
	for _, sp := range sps {
		cur := known[sp.ID]
		p, err := h.listing(pricing, cur, sp)
		if err != nil {
			run.RecordError(err.Error())
			continue
		}
		switch {
		case p == nil:
		case cur == nil:
			c.Created++
			writes = append(writes, p)
		default:
			c.Changed++
			if cur.InStock() && !p.InStock() {
				c.Deactivated++
			}
			writes = append(writes, p)
		}
	}
	if err := h.catalog.Upsert(ctx, writes...); err != nil {
		return domain.SyncCounts{Seen: c.Seen}, fmt.Errorf("store catalog: %w", err)
	}
	if err := h.storeOffers(ctx, pricing, sps, known, writes); err != nil {
		return domain.SyncCounts{Seen: c.Seen}, err
	}
	return c, nil
}

// vanishedBatch is how many catalog entries a full run reads at a time
// when it looks for products the supplier no longer lists.
const vanishedBatch = 1000

// takeVanishedOutOfStock sets the stock of this supplier's products that a
// complete full run did not see to zero, batch by batch.
func (h SyncCatalog) takeVanishedOutOfStock(ctx context.Context, run *domain.SyncRun, seen map[string]bool) error {
	after := ""
	for {
		batch, err := h.catalog.List(ctx, after, vanishedBatch)
		if err != nil {
			return fmt.Errorf("read catalog: %w", err)
		}
		var gone []*domain.Product
		for _, p := range batch {
			src := p.Source()
			if src.Kind != domain.SourceSupplier || src.Supplier != h.supplier.Name() || seen[p.SKU()] || p.Stock() == 0 {
				continue
			}
			s := p.Snapshot()
			s.Stock, s.UpdatedAt = 0, h.clock.Now()
			out, err := domain.NewProduct(s)
			if err != nil {
				return err
			}
			gone = append(gone, out)
		}
		if err := h.catalog.Upsert(ctx, gone...); err != nil {
			return fmt.Errorf("store vanished products: %w", err)
		}
		run.Add(domain.SyncCounts{Deactivated: len(gone)})
		if len(batch) < vanishedBatch {
			return nil
		}
		after = batch[len(batch)-1].SKU()
	}
}
