package bootstrap

import (
	"log/slog"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// Options returns the fx options of a keyward process for cfg, choosing the
// adapter module of each port from the configuration.
func Options(cfg Config, extra ...fx.Option) fx.Option {
	opts := []fx.Option{
		fx.Supply(cfg),
		fx.Provide(NewLogger),
		fx.WithLogger(func(log *slog.Logger) fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: log.With("component", "fx")}
			l.UseLogLevel(slog.LevelDebug)
			return l
		}),
		RuntimeModule,
		storageModule(cfg),
		keyVaultModule(cfg),
		SandboxSupplierModule,
		SandboxPaymentsModule,
		MaildirModule,
		ApplicationModule,
		PipelineModule,
		HTTPModule,
	}
	return fx.Options(append(opts, extra...)...)
}

func storageModule(cfg Config) fx.Option {
	if cfg.DatabaseURL != "" {
		return fx.Options(PostgresModule, SQLMessagingModule)
	}
	return fx.Options(MemoryStorageModule, GoChannelModule)
}

func keyVaultModule(cfg Config) fx.Option {
	if cfg.KeyVault == "vault" {
		return VaultModule
	}
	return LocalKeyringModule
}

// New builds the keyward application for cfg.
func New(cfg Config, extra ...fx.Option) *fx.App {
	return fx.New(Options(cfg, extra...))
}
