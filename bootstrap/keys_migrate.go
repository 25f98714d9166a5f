package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/vault"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// MigrateKeys moves every data key stored in the database from the local
// keyring (KEYWARD_KEYRING_FILE) to the key vault to names, "vault" (Vault
// transit, configured by the VAULT_* and KEYWARD_VAULT_* variables), so
// that serve can start with KEYWARD_KEY_VAULT=vault; see
// application.MigrateKeys. progress, when not nil, is called after each
// batch. The shop may serve meanwhile if every process runs on Vault with
// the keyring file still in place (vaultKeyVault); one still on the local
// keyring could not open the keys that moved. It returns an error naming
// the --to flag for another target, ErrNeedsDatabase without
// KEYWARD_DATABASE_URL, and an error naming the variable when the keyring
// file or the Vault token is missing; a run that fails midway can be run
// again to resume.
func MigrateKeys(ctx context.Context, cfg Config, to string, progress func(done, total int)) (application.MigrateKeysResult, error) {
	if to != "vault" {
		return application.MigrateKeysResult{}, fmt.Errorf("--to %q: keys can move only to vault (HashiCorp Vault transit)", to)
	}
	if cfg.DatabaseURL == "" {
		return application.MigrateKeysResult{}, ErrNeedsDatabase
	}
	if cfg.Vault.Token == "" {
		return application.MigrateKeysResult{}, errors.New("KEYWARD_VAULT_TOKEN (or VAULT_TOKEN) is not set: moving keys to Vault needs a token allowed to encrypt with the transit key")
	}
	// Open would make a new, empty keyring where the file is missing.
	if _, err := os.Stat(cfg.KeyringFile); err != nil {
		return application.MigrateKeysResult{}, fmt.Errorf("KEYWARD_KEYRING_FILE: the keys to move are wrapped under it: %w", err)
	}
	var migrate application.MigrateKeys
	app := fx.New(
		fx.Supply(cfg),
		fx.Provide(NewLogger),
		fx.NopLogger,
		RuntimeModule,
		PostgresModule,
		keyMigrationModule,
		fx.Module("audit.key", fx.Invoke(startAudit)), // after Vault's start
		fx.Populate(&migrate),
	)
	if err := app.Err(); err != nil {
		return application.MigrateKeysResult{}, err
	}
	if err := app.Start(ctx); err != nil {
		return application.MigrateKeysResult{}, err
	}
	// Stopping chains the audit records of the batches.
	defer app.Stop(context.WithoutCancel(ctx))
	return migrate.Handle(ctx, application.ActorOperatorCLI, progress)
}

// keyMigrationModule holds both key vaults of a migration to Vault: the
// local keyring the keys come from, Vault transit they go to, and, as the
// ports.KeyVault the audit MAC key is loaded with, a view of the two.
var keyMigrationModule = fx.Module("keyvault.migration",
	fx.Provide(
		func(cfg Config) (*localkeyring.Keyring, error) {
			k, err := localkeyring.Open(cfg.KeyringFile)
			if err != nil {
				return nil, fmt.Errorf("open keyring %s: %w", cfg.KeyringFile, err)
			}
			return k, nil
		},
		newVault,
		func(from *localkeyring.Keyring, to *vault.Vault) ports.KeyVault {
			return migratingVault{DataKeyImporter: to, from: from}
		},
		func(tx ports.Transactor, from *localkeyring.Keyring, to *vault.Vault, dataKeys ports.DataKeyRepository, audit ports.AuditLog, log *slog.Logger) application.MigrateKeys {
			return application.NewMigrateKeys(tx, from, to, dataKeys, audit, 0, log)
		},
	),
	fx.Invoke(startVault),
)
