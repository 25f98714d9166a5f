package bootstrap

import (
	"errors"

	"go.uber.org/fx"
)

// ErrNeedsDatabase is returned for operator commands that act on stored
// state: with the embedded in-memory store that state lives only inside the
// running server.
var ErrNeedsDatabase = errors.New("this command works on the stored state: set KEYWARD_DATABASE_URL (with the in-memory default, use the running server's admin API instead)")

// NewTool builds a small app for operator commands: storage and the key
// vault, no HTTP server and no pipeline. targets are filled with fx.Populate.
func NewTool(cfg Config, targets ...any) (*fx.App, error) {
	if cfg.DatabaseURL == "" {
		return nil, ErrNeedsDatabase
	}
	return fx.New(
		fx.Supply(cfg),
		fx.Provide(NewLogger),
		fx.NopLogger,
		RuntimeModule,
		PostgresModule,
		keyVaultModule(cfg),
		fx.Provide(newRotateKeys),
		fx.Populate(targets...),
	), nil
}
