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
	"github.com/keyward/keyward/domain"
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
	preorder := storePreorder(t, db)
	for i := len(versions) - 2; i >= -1; i-- {
		v := int64(0)
		if i >= 0 {
			v = versions[i]
		}
		if err := postgres.MigrateDown(ctx, db.DB); err != nil {
			t.Fatalf("MigrateDown to %d: %v", v, err)
		}
		wantStatus(v, v > 0)
		if v == preordersMigration-1 {
			checkPreorderDown(t, db, preorder)
		}
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

// preordersMigration is the version of migrations/00022_preorders.sql.
const preordersMigration = 22

// storePreorder stores exactOrder's order with its item f awaiting its
// release (an item_awaiting_release timeline entry), and returns its id.
func storePreorder(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	repo := postgres.NewOrders(db, postgres.NoOutbox{})
	o := exactOrder(t)
	if err := repo.Create(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	err := fulfil(fulfilment(o.ID()), func(fn func(*domain.Order) error) error {
		_, err := repo.Update(t.Context(), o.ID(), fn)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return o.ID()
}

// checkPreorderDown checks that below the pre-orders migration the order
// stored by storePreorder reads as the code before knew it: its item
// awaiting its release is purchased, the timeline entry an item_purchased.
// The order is then deleted, as the schemas further down do not know it.
func checkPreorderDown(t *testing.T, db *sqlx.DB, orderID string) {
	t.Helper()
	ctx := t.Context()
	var statuses, kinds []string
	if err := db.SelectContext(ctx, &statuses, `SELECT status FROM order_items WHERE order_id = $1 AND supplier_order_id = 'so-f'`, orderID); err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || statuses[0] != "purchased" {
		t.Errorf("below the pre-orders migration the pre-ordered item is %v, want purchased", statuses)
	}
	if err := db.SelectContext(ctx, &kinds, `SELECT DISTINCT type FROM order_timeline WHERE order_id = $1`, orderID); err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if k == "item_awaiting_release" {
			t.Errorf("below the pre-orders migration the timeline still has %s", k)
		}
	}
	var purchased int
	if err := db.GetContext(ctx, &purchased, `SELECT count(*) FROM order_timeline WHERE order_id = $1 AND type = 'item_purchased'
		AND metadata->>'supplier_order_id' = 'so-f'`, orderID); err != nil {
		t.Fatal(err)
	}
	if purchased != 2 {
		t.Errorf("%d item_purchased entries for the pre-ordered item, want 2 (its purchase, its wait rewritten)", purchased)
	}
	for _, q := range []string{`DELETE FROM order_timeline WHERE order_id = $1`, `DELETE FROM order_items WHERE order_id = $1`, `DELETE FROM orders WHERE id = $1`} {
		if _, err := db.ExecContext(ctx, q, orderID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
