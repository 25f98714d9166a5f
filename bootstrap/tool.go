package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// ErrNeedsDatabase is returned for operator commands that act on stored
// state: with the embedded in-memory store that state lives only inside the
// running server.
var ErrNeedsDatabase = errors.New("this command works on the stored state: set KEYWARD_DATABASE_URL (with the in-memory default, use the running server's admin API instead)")

// ErrRotateInServer is returned by RotateKeys with the local keyring: the
// running server holds the keyring file, and a second process rotating it
// would fork the master keys.
var ErrRotateInServer = errors.New("with the local keyring, rotate through the running server: POST /v1/admin/keys/rotate (KEYWARD_KEY_VAULT=vault rotates here)")

// newTool builds a small app for operator commands: storage and the key
// vault, no HTTP server and no pipeline. targets are filled with fx.Populate.
// dataKeys wraps the data key store the rotation uses (to count its work).
func newTool(cfg Config, dataKeys func(ports.DataKeyRepository) ports.DataKeyRepository, targets ...any) (*fx.App, error) {
	if cfg.DatabaseURL == "" {
		return nil, ErrNeedsDatabase
	}
	return fx.New(
		fx.Supply(cfg),
		fx.Provide(NewLogger),
		fx.NopLogger,
		RuntimeModule,
		PostgresModule,
		keyVaultModule(cfg),
		fx.Provide(func(tx ports.Transactor, v ports.KeyVault, dk ports.DataKeyRepository, a ports.AuditLog, log *slog.Logger) application.RotateKeys {
			return application.NewRotateKeys(tx, v, dataKeys(dk), a, 0, log)
		}),
		fx.Populate(targets...),
	), nil
}

// Migrate applies ("up"), rolls back one step ("down") or only inspects
// ("status") the database schema, and returns the schema version after it
// and the version keyward needs. WithProgress is told of each migration
// "up" applies.
func Migrate(ctx context.Context, cfg Config, direction string, opts ...ToolOption) (current, latest int64, err error) {
	if direction != "up" && direction != "down" && direction != "status" {
		return 0, 0, fmt.Errorf("unknown direction %q: use up, down or status", direction)
	}
	if cfg.DatabaseURL == "" {
		return 0, 0, errors.New("KEYWARD_DATABASE_URL is not set: the in-memory default has no schema to migrate")
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	switch direction {
	case "up":
		err = postgres.MigrateUpEach(ctx, db.DB, progressOf(opts))
	case "down":
		err = postgres.MigrateDown(ctx, db.DB)
	}
	if err != nil {
		return 0, 0, err
	}
	return postgres.MigrationStatus(ctx, db.DB)
}

// RotateKeys rotates the vault key and rewraps every stored data key, from
// an operator's shell. With the local keyring it returns ErrRotateInServer.
// WithProgress is told of each data key rewrapped.
func RotateKeys(ctx context.Context, cfg Config, actor string, opts ...ToolOption) (application.RotationResult, error) {
	if cfg.KeyVault == "local" {
		return application.RotationResult{}, ErrRotateInServer
	}
	var rotate application.RotateKeys
	report := progressOf(opts)
	app, err := newTool(cfg, func(dk ports.DataKeyRepository) ports.DataKeyRepository {
		return &rewrapCountingDataKeys{DataKeyRepository: dk, report: report}
	}, &rotate)
	if err != nil {
		return application.RotationResult{}, err
	}
	if err := app.Start(ctx); err != nil {
		return application.RotationResult{}, err
	}
	defer app.Stop(context.WithoutCancel(ctx))
	return rotate.Handle(ctx, actor)
}
