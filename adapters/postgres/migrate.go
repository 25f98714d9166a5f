package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/keyward/keyward/migrations"
)

// Migration directions accepted by Migrate.
const (
	DirectionUp   = "up"
	DirectionDown = "down"
)

// ErrSchemaBehind is matched (errors.Is) by the SchemaBehindError that
// CheckSchema returns.
var ErrSchemaBehind = errors.New("database schema is behind")

// SchemaBehindError says the database needs migrations keyward ships.
type SchemaBehindError struct {
	Current, Latest int64
}

func (e *SchemaBehindError) Error() string {
	return fmt.Sprintf("database schema is at version %d, keyward needs %d: run `keyward migrate up`", e.Current, e.Latest)
}

// Is makes errors.Is(err, ErrSchemaBehind) true.
func (e *SchemaBehindError) Is(target error) bool { return target == ErrSchemaBehind }

// Migrate applies every pending migration (DirectionUp) or rolls back the
// latest one (DirectionDown). Concurrent callers are serialised by a
// Postgres advisory lock. It returns an error for another direction, or
// when a migration fails (that migration is rolled back).
func Migrate(ctx context.Context, db *sql.DB, direction string) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	switch direction {
	case DirectionUp:
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
	case DirectionDown:
		if _, err := p.Down(ctx); err != nil {
			return fmt.Errorf("migrate down: %w", err)
		}
	default:
		return fmt.Errorf("migrate: unknown direction %q (want %q or %q)", direction, DirectionUp, DirectionDown)
	}
	return nil
}

// MigrateUp applies every pending migration.
func MigrateUp(ctx context.Context, db *sql.DB) error { return Migrate(ctx, db, DirectionUp) }

// MigrateDown rolls back the latest applied migration; it returns an error
// wrapping goose.ErrNoNextVersion when none is applied.
func MigrateDown(ctx context.Context, db *sql.DB) error { return Migrate(ctx, db, DirectionDown) }

// MigrateDownTo rolls back every applied migration above version.
func MigrateDownTo(ctx context.Context, db *sql.DB, version int64) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	if _, err := p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return nil
}

// MigrationStatus returns the version the database is at (0 for an empty
// database) and the latest version keyward ships. It does not write: a
// database never migrated is reported as version 0.
func MigrationStatus(ctx context.Context, db *sql.DB) (current, latest int64, err error) {
	p, err := newProvider(db)
	if err != nil {
		return 0, 0, err
	}
	sources := p.ListSources()
	latest = sources[len(sources)-1].Version

	var table sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT to_regclass($1)::text`, goose.DefaultTablename).Scan(&table); err != nil {
		return 0, 0, fmt.Errorf("migration status: %w", err)
	}
	if !table.Valid {
		return 0, latest, nil
	}
	current, err = p.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migration status: %w", err)
	}
	return current, latest, nil
}

// CheckSchema returns a *SchemaBehindError (matching ErrSchemaBehind) when
// the database lacks migrations keyward needs, nil when it is current.
// A database ahead of this binary is accepted: migrations are additive
// until a later one says otherwise.
func CheckSchema(ctx context.Context, db *sql.DB) error {
	current, latest, err := MigrationStatus(ctx, db)
	if err != nil {
		return err
	}
	if current < latest {
		return &SchemaBehindError{Current: current, Latest: latest}
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS,
		goose.WithSessionLocker(locker),
		goose.WithLogger(goose.NopLogger()),
	)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}
