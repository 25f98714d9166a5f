package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyward/keyward/bootstrap"
)

// worker runs the consumers, the reconciler and the schedulers, with only
// the ops endpoints on KEYWARD_OPS_ADDR: KEYWARD_ROLE=worker, whatever the
// environment says.
func worker() error {
	cfg, err := bootstrap.LoadConfig(func(k string) (string, bool) {
		if k == "KEYWARD_ROLE" {
			return bootstrap.RoleWorker, true
		}
		return bootstrap.EnvLookup(k)
	})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.Serve(context.Background(), cfg, os.Stderr)
}
