package bootstrap

import (
	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
)

// StockKeyInput is one key of a stock import, as the command line reads
// it from a file.
type StockKeyInput = application.StockKeyInput

// NewServer builds `keyward serve` from cfg and returns it with the base
// URL it serves (known once the listener is bound, also for port 0). On
// failure it returns the constructor's own error, which names the
// variable to fix, not the chain of the graph that led to it.
func NewServer(cfg Config) (*fx.App, string, error) {
	var base BaseURL
	app := New(cfg, fx.Populate(&base))
	if err := app.Err(); err != nil {
		return nil, "", dig.RootCause(err)
	}
	return app, string(base), nil
}
