package bootstrap

import (
	"fmt"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/ports"
)

// LocalKeyringModule wraps data keys under a master key kept in a file
// (KEYWARD_KEYRING_FILE): the embedded default.
var LocalKeyringModule = fx.Module("keyvault.local",
	fx.Provide(
		func(cfg Config) (ports.KeyVault, error) {
			k, err := localkeyring.Open(cfg.KeyringFile)
			if err != nil {
				return nil, fmt.Errorf("open keyring %s: %w", cfg.KeyringFile, err)
			}
			return k, nil
		},
		fx.Annotate(func(v ports.KeyVault) ports.HealthCheck {
			return ports.HealthCheck{Name: "keyvault", Check: v.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
)
