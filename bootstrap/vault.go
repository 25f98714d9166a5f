package bootstrap

import (
	"context"
	"log/slog"

	"github.com/hashicorp/vault/api"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/vault"
	"github.com/keyward/keyward/ports"
)

// VaultModule wraps data keys with HashiCorp Vault transit. At start it
// mounts transit and creates the derived key when missing and allowed, and
// keeps a renewable token alive. While the keyring file still exists (a
// shop moving from the local keyring) the keyring opens the keys not yet
// moved; without it, the process refuses to start while any is left.
var VaultModule = fx.Module("keyvault.vault",
	fx.Provide(
		newVault,
		vaultKeyVault,
		fx.Annotate(func(v ports.KeyVault) ports.HealthCheck {
			return ports.HealthCheck{Name: "keyvault", Check: v.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
	fx.Invoke(startVault, checkLocalKeysLeft),
)

// newVault is the Vault transit client the VAULT_* and KEYWARD_VAULT_*
// variables describe; it does not contact Vault.
func newVault(cfg Config, log *slog.Logger) (*vault.Vault, error) {
	return vault.New(vault.Config{
		Address: cfg.Vault.Addr, Token: cfg.Vault.Token, Mount: cfg.Vault.Mount, Key: cfg.Vault.Key, CreateKey: cfg.Vault.CreateKey,
		TLS: api.TLSConfig{CACert: cfg.Vault.CACert, ClientCert: cfg.Vault.ClientCert, ClientKey: cfg.Vault.ClientKey, Insecure: cfg.Vault.SkipVerify},
	}, log.With("component", "vault"))
}

// startVault readies the transit key when the process starts and renews
// the token until it stops.
func startVault(lc fx.Lifecycle, v *vault.Vault) {
	ctx, cancel := context.WithCancel(context.Background())
	lc.Append(fx.Hook{
		OnStart: func(start context.Context) error {
			if err := v.Init(start); err != nil {
				return err
			}
			return v.KeepTokenAlive(ctx)
		},
		OnStop: func(context.Context) error { cancel(); return nil },
	})
}
