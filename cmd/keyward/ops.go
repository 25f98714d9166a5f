package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
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

const keysUsage = `usage: keyward keys rotate
       keyward keys migrate --to vault
  migrate: moves every stored data key from the local keyring (KEYWARD_KEYRING_FILE) to Vault transit
           (VAULT_ADDR, KEYWARD_VAULT_TOKEN, KEYWARD_VAULT_TRANSIT_*) while the shop serves: restart it
           first with KEYWARD_KEY_VAULT=vault, keeping KEYWARD_KEYRING_FILE; once "left" is 0, remove
           the keyring file and restart. A stopped run resumes when run again.`

// keys runs key management commands.
func keys(args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "migrate" {
		return migrateKeys(args[1:], out)
	}
	if len(args) != 1 || args[0] != "rotate" {
		return errors.New(keysUsage)
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

// migrateKeys moves the stored data keys to another key vault and prints
// {"to":…,"total":n,"migrated":n,"already_migrated":n,"changed":n,"left":n}; on a
// terminal it shows the keys done on stderr.
func migrateKeys(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	to := fs.String("to", "", "the key vault to move the keys to: vault")
	if err := fs.Parse(args); err != nil || *to == "" || fs.NArg() != 0 {
		return errors.New(keysUsage)
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	var progress func(done, total int)
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		progress = func(done, total int) { fmt.Fprintf(os.Stderr, "\rdata keys migrated: %d of %d", done, total) }
		defer fmt.Fprintln(os.Stderr)
	}
	res, err := bootstrap.MigrateKeys(ctx, cfg, *to, progress)
	if err != nil {
		if res.Migrated > 0 {
			return fmt.Errorf("migration stopped after moving %d data keys (run it again to resume): %w", res.Migrated, err)
		}
		return err
	}
	err = json.NewEncoder(out).Encode(struct {
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
