package main

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/bootstrap"
)

// workerCmd runs the consumers, the reconciler and the schedulers, with
// only the ops endpoints on KEYWARD_OPS_ADDR: KEYWARD_ROLE=worker,
// whatever the environment says.
type workerCmd struct{}

func (workerCmd) environment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_BROKER", "KEYWARD_OPS_ADDR", "KEYWARD_PUBLIC_BASE_URL")
}

func (workerCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(func(k string) (string, bool) {
		if k == "KEYWARD_ROLE" {
			return bootstrap.RoleWorker, true
		}
		return bootstrap.EnvLookup(k)
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.Serve(context.Background(), cfg, e.stderr)
}
