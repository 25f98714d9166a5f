package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

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
	v, err := vault.New(vault.Config{
		Address: cfg.Vault.Addr, Token: cfg.Vault.Token, Mount: cfg.Vault.Mount, Key: cfg.Vault.Key, CreateKey: cfg.Vault.CreateKey,
		TLS: api.TLSConfig{CACert: cfg.Vault.CACert, ClientCert: cfg.Vault.ClientCert, ClientKey: cfg.Vault.ClientKey, Insecure: cfg.Vault.SkipVerify},
	}, log.With("component", "vault"))
	if err != nil {
		return nil, fmt.Errorf("VAULT_ADDR=%s: %w", urlAddress(cfg.Vault.Addr), err)
	}
	return v, nil
}

// startVault readies the transit key when the process starts and renews
// the token until it stops.
func startVault(lc fx.Lifecycle, cfg Config, v *vault.Vault) {
	ctx, cancel := context.WithCancel(context.Background())
	lc.Append(fx.Hook{
		OnStart: func(start context.Context) error {
			if err := v.Init(start); err != nil {
				return vaultFailure(cfg, err)
			}
			return v.KeepTokenAlive(ctx)
		},
		OnStop: func(context.Context) error { cancel(); return nil },
	})
}

// vaultFailure names what to fix when Vault cannot be used at start. The
// adapter keeps only the text of the client's error (ports'
// ErrVaultUnavailable over it), so Vault's answer is told by its status
// in that text: none means nothing answered.
func vaultFailure(cfg Config, err error) error {
	addr, msg := urlAddress(cfg.Vault.Addr), err.Error()
	switch {
	case strings.Contains(msg, "vault answered 403"):
		return fmt.Errorf("KEYWARD_VAULT_TOKEN (or VAULT_TOKEN): Vault at %s refuses the token; give keyward a token whose policy allows transit on %s: %w", addr, cfg.Vault.Mount, err)
	case errors.Is(err, ports.ErrVaultUnavailable) && !strings.Contains(msg, "vault answered"):
		return fmt.Errorf("VAULT_ADDR: Vault at %s is down or unreachable; start (and unseal) it or point VAULT_ADDR at it: %w", addr, err)
	}
	return fmt.Errorf("VAULT_ADDR: Vault at %s cannot be used (see KEYWARD_VAULT_TRANSIT_MOUNT, KEYWARD_VAULT_TRANSIT_KEY, KEYWARD_VAULT_CREATE_KEY): %w", addr, err)
}
