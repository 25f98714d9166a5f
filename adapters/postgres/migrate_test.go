package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := postgres.Open(ctx, pgtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

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
	for v := latest - 1; v >= 0; v-- {
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

func TestCheckSchemaSaysHowToFixABehindSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := postgres.Open(ctx, pgtest.NewEmptyDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
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
	check(latest - 1)
}
