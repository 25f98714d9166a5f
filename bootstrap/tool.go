package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/dig"
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

// tool is what an operator command works with: the use cases NewApp
// built, on the ports as serve and worker see them (processModule), and
// the signed checkpoints of the audit trail.
type tool struct {
	fx.In
	App         application.App
	Checkpoints application.AuditCheckpoints
}

// runTool starts, for an operator command, the application as serve
// builds it (the same adapters and decorated ports, so the same audit
// records), without serving, working or importing the catalog; calls fn
// with it; and stops it, which chains the audit records fn staged.
// modules are bound at the root, as a test's are: a decoration of a port
// there (a command counting its progress) sits beneath the process's own.
// Without KEYWARD_DATABASE_URL it returns ErrNeedsDatabase: the in-memory
// state lives in the running server. A start that fails returns
// toolFailure's error.
func runTool(ctx context.Context, cfg Config, fn func(tool) error, modules ...fx.Option) (err error) {
	if cfg.DatabaseURL == "" {
		return ErrNeedsDatabase
	}
	var t tool
	app := fx.New(
		fx.Provide(func() (Config, error) { return withPageSecret(cfg) }),
		fx.Provide(NewLogger),
		fx.NopLogger,
		adapterModules(cfg),
		// No listener: links in what a tool sends (none today) would use
		// the configured public URL.
		fx.Provide(func(cfg Config) BaseURL { return BaseURL(cfg.PublicBaseURL) }),
		processModule(fx.Module("application", applicationProviders, fx.Invoke(verifyKeyVault))),
		fx.Options(modules...),
		fx.Populate(&t),
	)
	if err := app.Start(ctx); err != nil {
		return toolFailure(err)
	}
	defer func() {
		if serr := app.Stop(context.WithoutCancel(ctx)); serr != nil && err == nil {
			err = fmt.Errorf("stop: %w", serr)
		}
	}()
	return fn(t)
}

// toolFailure is the error of an operator command whose application did
// not build or start: its causes, without fx's chain of the constructors
// that led to them, each whole. The short form serve and worker print
// (startupCause: two lines, the first cause) suits a service's log; an
// operator at a terminal gets all of what went wrong, a rollback that
// failed too included.
func toolFailure(err error) error {
	var causes []error
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range multi.Unwrap() {
			causes = append(causes, dig.RootCause(e))
		}
	} else {
		causes = append(causes, dig.RootCause(err))
	}
	return fmt.Errorf("could not start: %w", errors.Join(causes...))
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
	db, err := openDatabase(cfg, &postgres.SQLCounter{})
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
	var res application.RotationResult
	report := progressOf(opts)
	err := runTool(ctx, cfg, func(t tool) (err error) {
		res, err = t.App.Commands.RotateKeys.Handle(ctx, actor)
		return err
	}, fx.Decorate(func(dk ports.DataKeyRepository) ports.DataKeyRepository {
		return &rewrapCountingDataKeys{DataKeyRepository: dk, report: report}
	}))
	return res, err
}
