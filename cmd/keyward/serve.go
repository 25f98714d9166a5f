package main

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/bootstrap"
)

// serveCmd runs the service. It has no flags: the listen address and
// everything else come from KEYWARD_* variables (KEYWARD_HTTP_ADDR, not a
// --port), so one environment configures serve, worker and the tools.
type serveCmd struct{}

func (serveCmd) environment() string {
	return wholeConfig("KEYWARD_HTTP_ADDR", "KEYWARD_PUBLIC_BASE_URL", "KEYWARD_DATABASE_URL", "KEYWARD_ROLE")
}

// Run serves until SIGINT or SIGTERM; the banner comes once the server
// listens (bootstrap.Serve).
func (serveCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.Serve(context.Background(), cfg, e.stderr)
}
