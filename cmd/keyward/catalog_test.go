package main_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// TestCatalogSyncCommand: `keyward catalog sync` imports the supplier's
// catalog into the database and records the run; run again it changes
// nothing; both runs are in the database for GET /v1/admin/catalog/sync-runs.
func TestCatalogSyncCommand(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	env := []string{"KEYWARD_DATABASE_URL=" + url}
	out, err := keyward(t, env, "catalog", "sync")
	if err != nil || !strings.Contains(out, "(full): 15 products seen, 15 created, 0 changed, 0 deactivated") {
		t.Fatalf("first sync: %v\n%s", err, out)
	}
	out, err = keyward(t, env, "catalog", "sync", "--full")
	if err != nil || !strings.Contains(out, "(full): 15 products seen, 0 created, 0 changed, 0 deactivated") {
		t.Fatalf("second sync: %v\n%s", err, out)
	}
	var runs int
	if err := db.GetContext(t.Context(), &runs, `SELECT count(*) FROM catalog_sync_runs WHERE status = 'succeeded'`); err != nil || runs != 2 {
		t.Fatalf("%d succeeded runs recorded (%v), want 2", runs, err)
	}
	if out, err := keyward(t, env, "catalog", "sync", "--supplier", "g2a"); err == nil || !strings.Contains(out, `supplier "g2a" is not configured`) {
		t.Errorf("an unknown supplier: %v\n%s", err, out)
	}
	if out, err := keyward(t, env, "catalog", "sync", "--full", "--incremental"); err == nil || !strings.Contains(out, "usage: keyward catalog sync") {
		t.Errorf("both modes: %v\n%s", err, out)
	}
	if out, err := keyward(t, nil, "catalog", "sync"); err == nil || !strings.Contains(out, "KEYWARD_DATABASE_URL") {
		t.Errorf("without a database: %v\n%s", err, out)
	}
}
