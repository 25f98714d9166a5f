package bootstrap

import (
	"context"
	"fmt"
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
// audited as the operator's command line. It needs KEYWARD_DATABASE_URL
// (ErrNeedsDatabase otherwise: the in-memory stock lives in the running
// server, whose admin API takes uploads) and the configured key vault.
func ImportStock(ctx context.Context, cfg Config, sku string, keys []application.StockKeyInput) (application.ImportStockResult, error) {
	if cfg.DatabaseURL == "" {
		return application.ImportStockResult{}, ErrNeedsDatabase
	}
	var imp application.ImportStock
	app := fx.New(
		fx.Supply(cfg),
		fx.Provide(NewLogger),
		fx.NopLogger,
		RuntimeModule,
		PostgresModule,
		stockModule(cfg),
		keyVaultModule(cfg),
		fx.Provide(application.NewImportStock),
		fx.Populate(&imp),
	)
	if err := app.Start(ctx); err != nil {
		return application.ImportStockResult{}, err
	}
	defer app.Stop(context.WithoutCancel(ctx))
	return imp.Handle(ctx, application.ImportStockCommand{SKU: sku, Keys: keys, Actor: application.ActorOperatorCLI})
}
