package bootstrap

import (
	"crypto/rand"
	"fmt"
	"log/slog"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// Options returns the fx options of a keyward process for cfg, choosing the
// adapter module of each port from the configuration. extra are bound at
// the root: a decoration of a port there sits beneath the process's own
// (processModule).
func Options(cfg Config, extra ...fx.Option) fx.Option {
	opts := []fx.Option{
		fx.Provide(func() (Config, error) { return withPageSecret(cfg) }),
		fx.Provide(NewLogger),
		fx.WithLogger(func(log *slog.Logger) fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
			l.UseLogLevel(slog.LevelDebug)
			// A failed start is returned (App.Start), cut to its cause:
			// logged whole, the graph's chain would bury it.
			l.UseErrorLevel(slog.LevelDebug)
			return l
		}),
		adapterModules(cfg),
		processModule(ApplicationModule, roleModule(cfg), webhookWorkerModule(cfg), profilingModule(cfg), fx.Invoke(markStopping)),
	}
	return fx.Options(append(opts, extra...)...)
}

// adapterModules bind every port the application drives to the adapter
// cfg chooses; serve, worker and the operator tools that run a use case
// share them.
func adapterModules(cfg Config) fx.Option {
	return fx.Options(
		RuntimeModule,
		storageModule(cfg),
		stockModule(cfg),
		messagingModule(cfg),
		blobStoreModule(cfg),
		keyVaultModule(cfg),
		supplierModule(cfg),
		paymentsModule(cfg),
		mailModule(cfg),
		operationsModule(cfg),
		webhooksModule(cfg),
		MetricsModule,
	)
}

// withPageSecret gives cfg a random page secret when none is configured:
// loading stays free of side effects, and each process still signs its
// reveal pages with a secret nobody else knows.
func withPageSecret(cfg Config) (Config, error) {
	if len(cfg.PageSecret) == 0 {
		cfg.PageSecret = make([]byte, 32)
		if _, err := rand.Read(cfg.PageSecret); err != nil {
			return Config{}, fmt.Errorf("page secret: %w", err)
		}
	}
	return cfg, nil
}

func storageModule(cfg Config) fx.Option {
	if cfg.DatabaseURL != "" {
		return PostgresModule
	}
	return MemoryStorageModule
}

// keyVaultModule is the configured key vault, then the start of the
// audit MAC key it wraps: a module of its own after the vault's, so that
// it starts after the vault and before the modules declared later (HTTP,
// workers), which must not stage a record before the key is loaded (fx
// appends start hooks in module order).
func keyVaultModule(cfg Config) fx.Option {
	vault := LocalKeyringModule
	if cfg.KeyVault == "vault" {
		vault = VaultModule
	}
	return fx.Options(vault, fx.Module("audit.key", fx.Invoke(startAudit)))
}

// New builds the keyward application for cfg. Its Err and Start return
// the cause of a failed start, naming the variable to fix.
func New(cfg Config, extra ...fx.Option) *App {
	return &App{fx.New(Options(cfg, append([]fx.Option{fx.StopTimeout(shutdownTimeout(cfg))}, extra...)...))}
}
