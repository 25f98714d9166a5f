package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// migrate applies or inspects the database schema.
func migrate(args []string, out io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return errors.New("usage: keyward migrate up|down|status")
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	current, latest, err := bootstrap.Migrate(ctx, cfg, args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "schema version %d (keyward needs %d)\n", current, latest)
	return nil
}

// keys runs key management commands.
func keys(args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "rotate" {
		return errors.New("usage: keyward keys rotate")
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	res, err := bootstrap.RotateKeys(ctx, cfg, "operator:cli")
	if errors.Is(err, bootstrap.ErrRotateInServer) || errors.Is(err, bootstrap.ErrNeedsDatabase) {
		return err
	}
	if err != nil {
		return fmt.Errorf("rotation stopped after rewrapping %d data keys (run it again to resume): %w", res.Rewrapped, err)
	}
	fmt.Fprintf(out, "key version %d; rewrapped %d data keys; minimum decryption version raised: %v\n", res.Version, res.Rewrapped, res.Floor)
	if res.Unreadable > 0 {
		return fmt.Errorf("%d data keys no longer open and were left as they are: see the audit log", res.Unreadable)
	}
	return nil
}
