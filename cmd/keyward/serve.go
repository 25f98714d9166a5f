package main

import (
	"context"
	"fmt"
	"os"

	"github.com/keyward/keyward/bootstrap"
)

func serve() error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.Serve(context.Background(), cfg, os.Stderr)
}
