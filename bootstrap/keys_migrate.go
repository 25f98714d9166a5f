package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.uber.org/fx"

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
	// On Vault, with the keyring file in place, the key vault is Vault
	// opening the keys not yet moved with the keyring (vaultKeyVault):
	// the process serve would run once the keys have moved.
	cfg.KeyVault = "vault"
	var migrate application.MigrateKeys
	var res application.MigrateKeysResult
	err := runTool(ctx, cfg, func(tool) (err error) {
		res, err = migrate.Handle(ctx, application.ActorOperatorCLI, progress)
		return err
	}, fx.Provide(newMigrateKeys), fx.Populate(&migrate))
	return res, err
}

// newMigrateKeys moves the keys from the keyring to Vault, the two sides
// of the process's key vault while it moves (vaultKeyVault).
func newMigrateKeys(kv ports.KeyVault, tx ports.Transactor, dataKeys ports.DataKeyRepository, audit ports.AuditLog, log *slog.Logger) (application.MigrateKeys, error) {
	m, ok := kv.(migratingVault)
	from, local := m.from.(ports.DataKeyImporter)
	if !ok || !local {
		return application.MigrateKeys{}, fmt.Errorf("KEYWARD_KEYRING_FILE: the local keyring is not read beside Vault, so no key can move from it")
	}
	return application.NewMigrateKeys(tx, from, m.DataKeyImporter, dataKeys, audit, 0, log), nil
}
