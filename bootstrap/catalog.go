package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// CatalogConfig is how the catalog follows the supplier and prices what it
// sells (KEYWARD_CATALOG_MARGIN, the default margin, predates it).
type CatalogConfig struct {
	SyncInterval time.Duration   `env:"KEYWARD_CATALOG_SYNC_INTERVAL" envDefault:"1h" doc:"how often worker processes sync the catalog from each supplier, on a schedule of its own: incremental (changes since its last successful run, less 5 minutes), full once a day or when no full run succeeded; one instance at a time (\x600\x60: never, sync with \x60keyward catalog sync\x60 or \x60POST /v1/admin/catalog/sync\x60)"`
	PriceEnding  string          `env:"KEYWARD_PRICE_ENDING" envDefault:".99" doc:"computed prices round up to a price ending so: \x60.99\x60 (19.99), \x60.95\x60, \x609.99\x60 (19.99, 29.99), \x60.00\x60 (whole units); empty: to the cent"`
	PriceFee     decimal.Decimal `env:"KEYWARD_PRICE_FEE" envDefault:"0" doc:"fixed amount added to supplier cost × (1 + margin) before rounding, in the cost's currency"`
}

// Validate names the variable to fix.
func (c CatalogConfig) Validate() error {
	if c.SyncInterval < 0 {
		return fmt.Errorf("KEYWARD_CATALOG_SYNC_INTERVAL must not be negative (0 turns the periodic sync off)")
	}
	if c.SyncInterval > 0 && c.SyncInterval < time.Minute {
		return fmt.Errorf("KEYWARD_CATALOG_SYNC_INTERVAL must be at least 1m (or 0 for off), not %s", c.SyncInterval)
	}
	if _, err := domain.ParsePriceEnding(c.PriceEnding); err != nil {
		return fmt.Errorf("KEYWARD_PRICE_ENDING: %w", err)
	}
	if c.PriceFee.IsNegative() || !c.PriceFee.Equal(c.PriceFee.Round(2)) {
		return fmt.Errorf("KEYWARD_PRICE_FEE must be a non-negative amount with at most two decimals, not %s", c.PriceFee)
	}
	return nil
}

// priceEnding is the validated ending (Validate refused a bad one).
func (c CatalogConfig) priceEnding() domain.PriceEnding {
	e, err := domain.ParsePriceEnding(c.PriceEnding)
	if err != nil {
		return domain.DefaultPriceEnding
	}
	return e
}

// runCatalogSync syncs the catalog every KEYWARD_CATALOG_SYNC_INTERVAL in
// a worker process. Every worker ticks; the Locks port lets one run at a
// time, the others find it taken and wait for their next tick.
func runCatalogSync(lc fx.Lifecycle, cfg Config, app application.App, suppliers ports.Suppliers, log *slog.Logger) {
	// Each supplier on a schedule of its own (its runs, its lock).
	for i, name := range suppliers.Names() {
		if i == 0 {
			name = "" // the first: the default run, as it always was
		}
		scheduleCatalogSync(lc, cfg.Catalog.SyncInterval, app.Commands.SyncCatalog, name, log)
	}
}

// scheduleCatalogSync runs sync of the named supplier ("": the first)
// every interval (never when not positive) from the lifecycle's start to
// its stop.
func scheduleCatalogSync(lc fx.Lifecycle, interval time.Duration, sync application.SyncCatalog, supplier string, log *slog.Logger) {
	everyInterval(lc, interval, func(ctx context.Context) {
		res, err := sync.Handle(ctx, application.SyncCatalogCommand{Supplier: supplier})
		switch {
		case err != nil && ctx.Err() == nil && !isConflict(err):
			log.Error("periodic catalog sync failed", "err", err, "run_id", res.RunID, "supplier", supplier)
		case err != nil:
			log.Debug("periodic catalog sync skipped", "err", err)
		}
	})
}

// SyncCatalog runs one catalog sync from an operator's shell ("full",
// "incremental", or "" to let the last runs decide) against the stored
// catalog; ErrNeedsDatabase without KEYWARD_DATABASE_URL. WithProgress is
// told of each supplier page read; WithSupplier names the supplier.
func SyncCatalog(ctx context.Context, cfg Config, mode string, opts ...ToolOption) (application.SyncCatalogResult, error) {
	cmd := application.SyncCatalogCommand{Supplier: supplierOf(opts)}
	if mode != "" {
		m, err := domain.ParseSyncMode(mode)
		if err != nil {
			return application.SyncCatalogResult{}, err
		}
		cmd.Mode = m
	}
	var res application.SyncCatalogResult
	report := progressOf(opts)
	err := runTool(ctx, cfg, func(t tool) (err error) {
		res, err = t.App.Commands.SyncCatalog.Handle(ctx, cmd)
		return err
	}, fx.Decorate(func(s ports.Suppliers) ports.Suppliers {
		return s.Wrap(func(s ports.Supplier) ports.Supplier { return &pageCountingSupplier{Supplier: s, report: report} })
	}))
	return res, err
}

// isConflict reports another instance holding the sync.
func isConflict(err error) bool { return errors.Is(err, domain.ErrConflict) }
