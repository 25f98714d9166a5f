package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// StockConfig configures our own key stock and the price guard of
// purchases from the supplier.
type StockConfig struct {
	MinMargin      decimal.Decimal `env:"KEYWARD_MIN_MARGIN" envDefault:"0.00" doc:"price guard: the least kept per key; the most paid to the supplier is the sale price minus this"`
	PriceGuardWait time.Duration   `env:"KEYWARD_PRICE_GUARD_WAIT" envDefault:"30m" doc:"price guard: how long an item waits for a cheaper supplier offer before the order is held for review"`
}

// Validate returns an error naming the variable that is out of range.
func (c StockConfig) Validate() error {
	if c.MinMargin.IsNegative() {
		return fmt.Errorf("KEYWARD_MIN_MARGIN must not be negative, got %s", c.MinMargin)
	}
	if c.PriceGuardWait < 0 {
		return fmt.Errorf("KEYWARD_PRICE_GUARD_WAIT must not be negative, got %s", c.PriceGuardWait)
	}
	return nil
}

func (c StockConfig) priceGuard() application.PriceGuard {
	return application.PriceGuard{MinMargin: c.MinMargin, Wait: c.PriceGuardWait}
}

// stockModule binds the stock repository to the configured storage: the
// stock is storage like the orders, and its claims must join the same
// Postgres unit of work as the order they seal.
func stockModule(cfg Config) fx.Option {
	if cfg.DatabaseURL != "" {
		return fx.Module("stock.postgres", fx.Provide(
			fx.Annotate(postgres.NewStock, fx.As(new(ports.StockRepository))),
		))
	}
	return fx.Module("stock.memory", fx.Provide(
		fx.Annotate(memory.NewStock, fx.As(new(ports.StockRepository))),
	))
}

// ImportStock adds keys to the own stock of sku from an operator's shell,
// audited as the operator's command line, through the use case serve
// builds: it writes the records an API upload writes. Stock keys an
// earlier keyward stored are rehashed first, as serve does at its start.
// It needs KEYWARD_DATABASE_URL (ErrNeedsDatabase otherwise: the in-memory
// stock lives in the running server, whose admin API takes uploads) and
// the configured key vault. WithProgress is told of each key sealed.
func ImportStock(ctx context.Context, cfg Config, sku string, keys []StockKeyInput, opts ...ToolOption) (application.ImportStockResult, error) {
	var res application.ImportStockResult
	report := progressOf(opts)
	err := runTool(ctx, cfg, func(t tool) (err error) {
		res, err = t.App.Commands.ImportStock.Handle(ctx, application.ImportStockCommand{SKU: sku, Keys: keys, Actor: application.ActorOperatorCLI,
			Progress: func(done int) { report(done, len(keys), "") }})
		return err
	}, fx.Invoke(rehashStockOnStart))
	return res, err
}

// RehashStock moves the stock keys an earlier keyward stored to the hash
// of their canonical form and withdraws the copies of a key it finds
// twice (application.RehashStock), from an operator's shell. Serve and
// worker do the same at start; running it first keeps a large stock's
// rehash out of their start-up. Without KEYWARD_DATABASE_URL it returns
// ErrNeedsDatabase: a memory stock holds no keys of the old form.
func RehashStock(ctx context.Context, cfg Config) (application.RehashStockResult, error) {
	var res application.RehashStockResult
	err := runTool(ctx, cfg, func(t tool) (err error) {
		res, err = t.App.Commands.RehashStock.Handle(ctx, application.ActorOperatorCLI)
		return err
	})
	return res, err
}

// rehashStockOnStart rehashes, before the process serves or works, the
// stock keys an earlier keyward hashed as typed, so that a shop that never
// runs `keyward stock rehash` still sells each key once. A start stopped
// midway resumes at the next; a failure stops the start.
func rehashStockOnStart(lc fx.Lifecycle, app application.App, log *slog.Logger) {
	rehash := app.Commands.RehashStock
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		res, err := rehash.Handle(ctx, application.ActorSystem)
		if err != nil {
			return fmt.Errorf("refusing to start: %w (or run keyward stock rehash)", err)
		}
		if n := res.Rehashed + len(res.Duplicates) + len(res.Refused); n > 0 {
			log.Info("stock keys rehashed to their canonical form", "rehashed", res.Rehashed,
				"duplicates_withdrawn", len(res.Duplicates), "refused_withdrawn", len(res.Refused))
		}
		return nil
	}})
}
