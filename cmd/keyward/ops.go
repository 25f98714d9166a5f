package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
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
	if cfg.DatabaseURL == "" {
		return errors.New("KEYWARD_DATABASE_URL is not set: the in-memory default has no schema to migrate")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	switch args[0] {
	case "up":
		err = postgres.MigrateUp(ctx, db.DB)
	case "down":
		err = postgres.MigrateDown(ctx, db.DB)
	}
	if err != nil {
		return err
	}
	current, latest, err := postgres.MigrationStatus(ctx, db.DB)
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
	if cfg.KeyVault == "local" {
		// The server holds the keyring file in memory: a second process
		// rotating it would fork the master keys. The server rotates it.
		return errors.New("with the local keyring, rotate through the running server: POST /v1/admin/keys/rotate (KEYWARD_KEY_VAULT=vault rotates here)")
	}
	var rotate application.RotateKeys
	app, err := bootstrap.NewTool(cfg, &rotate)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer app.Stop(context.Background())
	res, err := rotate.Handle(ctx, "operator:cli")
	if err != nil {
		return fmt.Errorf("rotation stopped after rewrapping %d data keys (run it again to resume): %w", res.Rewrapped, err)
	}
	fmt.Fprintf(out, "key version %d; rewrapped %d data keys; minimum decryption version raised: %v\n", res.Version, res.Rewrapped, res.Floor)
	if res.Unreadable > 0 {
		return fmt.Errorf("%d data keys no longer open and were left as they are: see the audit log", res.Unreadable)
	}
	return nil
}
