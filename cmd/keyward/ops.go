package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/keyward/keyward/bootstrap"
)

// migrateCmd applies or inspects the database schema.
type migrateCmd struct {
	Up     migrateStep `cmd:"" help:"Apply every pending migration (each is shown as it is applied, on a terminal)."`
	Down   migrateStep `cmd:"" help:"Roll back the latest migration."`
	Status migrateStep `cmd:"" help:"Show the schema version and the version keyward needs."`
}

// migrateStep is one direction; the command's name says which.
type migrateStep struct{}

func (migrateStep) environment() string { return wholeConfig("KEYWARD_DATABASE_URL") }

func (migrateStep) Run(k *kong.Context, e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := newProgress(e, "migrations applied")
	current, latest, err := bootstrap.Migrate(ctx, cfg, k.Selected().Name, bootstrap.WithProgress(p.fn()))
	p.end()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "schema version %d (keyward needs %d)\n", current, latest)
	return nil
}

// keysCmd runs key management commands.
type keysCmd struct {
	Rotate  rotateCmd      `cmd:"" help:"Rotate the vault key and rewrap every stored data key (KEYWARD_KEY_VAULT=vault; with the local keyring, rotate through the running server)."`
	Migrate migrateKeysCmd `cmd:"" help:"Move every stored data key (orders, own stock, the audit MAC key) from the local keyring (KEYWARD_KEYRING_FILE) to Vault transit while the shop serves: restart it first with KEYWARD_KEY_VAULT=vault, keeping KEYWARD_KEYRING_FILE; once left is 0, remove the keyring file and restart. Resumable, audited."`
}

// migrateKeysCmd moves the stored data keys to another key vault: only
// Vault transit today.
type migrateKeysCmd struct {
	To string `required:"" enum:"vault" help:"The key vault to move the keys to: vault."`
}

func (migrateKeysCmd) environment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_KEYRING_FILE", "VAULT_ADDR", "KEYWARD_VAULT_TOKEN")
}

func (c migrateKeysCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	p := newProgress(e, "data keys migrated")
	var progress func(done, total int)
	if report := p.fn(); report != nil { // nil off a terminal
		progress = func(done, total int) { report(done, total, "") }
	}
	res, err := bootstrap.MigrateKeys(ctx, cfg, c.To, progress)
	p.end()
	if err != nil {
		if res.Migrated > 0 {
			return fmt.Errorf("migration stopped after moving %d data keys (run it again to resume): %w", res.Migrated, err)
		}
		return err
	}
	err = json.NewEncoder(e.stdout).Encode(struct {
		To              string `json:"to"`
		Total           int    `json:"total"`
		Migrated        int    `json:"migrated"`
		AlreadyMigrated int    `json:"already_migrated"`
		Changed         int    `json:"changed"`
		Left            int    `json:"left"`
	}{res.To, res.Total, res.Migrated, res.AlreadyMigrated, res.Changed, res.Left})
	// Keys changed while they moved are no concern by themselves (an order
	// revoked, a rotation that moved them); keys still on the keyring are.
	if err == nil && res.Left > 0 {
		err = fmt.Errorf("%d data keys are still wrapped by the local keyring (is a process still running on it?): run it again before removing KEYWARD_KEYRING_FILE", res.Left)
	}
	return err
}

type rotateCmd struct{}

func (rotateCmd) environment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_KEY_VAULT", "VAULT_ADDR", "KEYWARD_VAULT_TOKEN")
}

func (rotateCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	p := newProgress(e, "data keys rewrapped")
	res, err := bootstrap.RotateKeys(ctx, cfg, "operator:cli", bootstrap.WithProgress(p.fn()))
	p.end()
	if errors.Is(err, bootstrap.ErrRotateInServer) || errors.Is(err, bootstrap.ErrNeedsDatabase) {
		return err
	}
	if err != nil {
		return fmt.Errorf("rotation stopped after rewrapping %d data keys (run it again to resume): %w", res.Rewrapped, err)
	}
	fmt.Fprintf(e.stdout, "key version %d; rewrapped %d data keys; minimum decryption version raised: %v\n", res.Version, res.Rewrapped, res.Floor)
	if res.Unreadable > 0 {
		return fmt.Errorf("%d data keys no longer open and were left as they are: see the audit log", res.Unreadable)
	}
	return nil
}
