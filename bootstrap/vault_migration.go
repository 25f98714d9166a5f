package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/vault"
	"github.com/keyward/keyward/ports"
)

// vaultKeyVault is the key vault of a shop on Vault: Vault itself, or,
// while KEYWARD_KEYRING_FILE still exists, Vault with the keyring opening
// the `local:` keys not yet moved (see migratingVault), so that a running
// shop can be moved by `keyward keys migrate --to vault` without an order
// failing to reveal. It returns an error when the file exists but cannot
// be read.
func vaultKeyVault(cfg Config, v *vault.Vault) (ports.KeyVault, error) {
	if _, err := os.Stat(cfg.KeyringFile); errors.Is(err, fs.ErrNotExist) {
		return v, nil
	}
	from, err := localkeyring.Open(cfg.KeyringFile)
	if err != nil {
		return nil, fmt.Errorf("KEYWARD_KEYRING_FILE: open keyring %s: %w", cfg.KeyringFile, err)
	}
	return migratingVault{DataKeyImporter: v, from: from}, nil
}

// checkLocalKeysLeft, at start, counts the data keys the local keyring
// still wraps. While the keyring is read it says so once, with what to do
// next; without it, any such key would fail to reveal, so the process
// refuses to start (the start-up sample check could pass on one key that
// did move).
func checkLocalKeysLeft(lc fx.Lifecycle, cfg Config, kv ports.KeyVault, dataKeys ports.DataKeyRepository, log *slog.Logger) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		left, err := dataKeys.CountWrappedBy(ctx, localKind)
		if err != nil {
			return fmt.Errorf("count the data keys the local keyring wraps: %w", err)
		}
		if _, migrating := kv.(migratingVault); migrating {
			log.Warn("the local keyring is still read while data keys move to Vault: run `keyward keys migrate --to vault`, then remove KEYWARD_KEYRING_FILE",
				"keyring_file", cfg.KeyringFile, "local_keys_left", left)
			return nil
		}
		if left > 0 {
			return fmt.Errorf("refusing to start: %d data keys are still wrapped by the local keyring and KEYWARD_KEYRING_FILE (%s) does not exist: restore it, then run `keyward keys migrate --to vault`", left, cfg.KeyringFile)
		}
		return nil
	}})
}

// localKind prefixes the local keyring's ciphertexts.
const localKind = "local"
