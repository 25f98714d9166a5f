package postgres_test

import (
	"errors"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/migrations"
)

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)

	wantStatus := func(wantCurrent int64, wantTables bool) {
		t.Helper()
		current, latest, err := postgres.MigrationStatus(ctx, db.DB)
		if err != nil || latest < 1 || current != wantCurrent {
			t.Fatalf("MigrationStatus = %d, %d, %v; want current %d", current, latest, err, wantCurrent)
		}
		var orders *string
		if err := db.GetContext(ctx, &orders, `SELECT to_regclass('orders')::text`); err != nil {
			t.Fatal(err)
		}
		if (orders != nil) != wantTables {
			t.Fatalf("at version %d the orders table exists: %t", current, orders != nil)
		}
	}
	_, latest, err := postgres.MigrationStatus(ctx, db.DB)
	if err != nil {
		t.Fatal(err)
	}

	wantStatus(0, false)
	for range 2 { // up is idempotent
		if err := postgres.MigrateUp(ctx, db.DB); err != nil {
			t.Fatalf("MigrateUp: %v", err)
		}
		wantStatus(latest, true)
	}
	// Versions may skip a number (engineers reserve numbers apart): each
	// step down goes to the version of the file before.
	versions := migrationVersions(t)
	for i := len(versions) - 2; i >= -1; i-- {
		v := int64(0)
		if i >= 0 {
			v = versions[i]
		}
		if err := postgres.MigrateDown(ctx, db.DB); err != nil {
			t.Fatalf("MigrateDown to %d: %v", v, err)
		}
		wantStatus(v, v > 0)
	}
	if err := postgres.MigrateDown(ctx, db.DB); err == nil {
		t.Errorf("MigrateDown below version 0 succeeded")
	}
	if err := postgres.Migrate(ctx, db.DB, "sideways"); err == nil {
		t.Errorf("Migrate in an unknown direction succeeded")
	}
	if err := postgres.MigrateUp(ctx, db.DB); err != nil {
		t.Fatalf("MigrateUp again: %v", err)
	}
	wantStatus(latest, true)
	if err := postgres.CheckSchema(ctx, db.DB); err != nil {
		t.Errorf("CheckSchema of a current database: %v", err)
	}
}

// migrationVersions returns the versions of the shipped migration files,
// in order.
func migrationVersions(t *testing.T) []int64 {
	t.Helper()
	entries, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, name := range entries {
		v, err := strconv.ParseInt(strings.SplitN(name, "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func TestCheckSchemaSaysHowToFixABehindSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)
	_, latest, err := postgres.MigrationStatus(ctx, db.DB)
	if err != nil {
		t.Fatal(err)
	}

	check := func(wantCurrent int64) {
		t.Helper()
		err := postgres.CheckSchema(ctx, db.DB)
		if !errors.Is(err, postgres.ErrSchemaBehind) {
			t.Fatalf("CheckSchema = %v, want ErrSchemaBehind", err)
		}
		var behind *postgres.SchemaBehindError
		if !errors.As(err, &behind) || behind.Current != wantCurrent || behind.Latest != latest {
			t.Fatalf("CheckSchema = %#v, want current %d, latest %d", err, wantCurrent, latest)
		}
		for _, part := range []string{"database schema is at version", "keyward needs", "run `keyward migrate up`"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("CheckSchema message %q lacks %q", err, part)
			}
		}
	}
	check(0) // never migrated
	var goose *string
	if err := db.GetContext(ctx, &goose, `SELECT to_regclass('goose_db_version')::text`); err != nil || goose != nil {
		t.Errorf("CheckSchema wrote to the database it checked (%v)", err)
	}

	if err := postgres.MigrateUp(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	if err := postgres.MigrateDown(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	versions := migrationVersions(t)
	check(versions[len(versions)-2])
}

// openEmpty opens, through the adapter's own Open, a fresh database with
// no tables, closed when the test ends.
func openEmpty(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), pgtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}
