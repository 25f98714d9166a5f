package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// auditLogMigration is the version of migrations/00002_audit_log.sql.
const auditLogMigration = 2

// auditPendingMigration is the version of migrations/00013_audit_pending.sql.
const auditPendingMigration = 13

// auditMACMigration is the version of migrations/00015_audit_mac.sql.
const auditMACMigration = 15

// migrateDownTo rolls back one migration at a time to version, failing the
// test on any refusal.
func migrateDownTo(t *testing.T, db *sqlx.DB, version int64) {
	t.Helper()
	for {
		current, _, err := postgres.MigrationStatus(t.Context(), db.DB)
		if err != nil {
			t.Fatal(err)
		}
		if current <= version {
			return
		}
		if err := postgres.MigrateDown(t.Context(), db.DB); err != nil {
			t.Fatalf("MigrateDown from %d: %v", current, err)
		}
	}
}

// TestRollbackKeepsAuditRecords: migrating down never drops audit records
// (here a record chained before MACs, which the MAC migration lets pass).
func TestRollbackKeepsAuditRecords(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	insertChain(t, db, 1, nil)
	migrateDownTo(t, db, auditLogMigration)
	err := postgres.MigrateDown(t.Context(), db.DB)
	if err == nil || !strings.Contains(err.Error(), "audit_log holds records") {
		t.Fatalf("rollback with audit records: %v", err)
	}
	// The code reads a newer schema than this one: count the rows.
	if n := countRows(t, db, "audit_log"); n != 1 {
		t.Fatalf("after the refused rollback: %d records, want 1", n)
	}
}

// TestRollbackKeepsAuditMACs: rolling back the MAC migration would drop
// what proves the trail whole (chained MACs, a staged record's MAC, a
// quarantined row): refused while there is any.
func TestRollbackKeepsAuditMACs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		seed func(t *testing.T, db *sqlx.DB)
	}{
		{"a chained record", func(t *testing.T, db *sqlx.DB) {
			appendAuditRecords(t, newAuditLog(t, db, newAuditClock(t0)), 1)
		}},
		{"a staged record", func(t *testing.T, db *sqlx.DB) {
			log := newAuditLog(t, db, newAuditClock(t0))
			if err := postgres.NewTransactor(db).Atomically(t.Context(), func(ctx context.Context) error {
				_, err := log.Append(ctx, "customer", "keys.revealed", "ord-1", nil)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}},
		{"a quarantined row", func(t *testing.T, db *sqlx.DB) {
			if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_quarantine (pending_id, reason) VALUES (1, 'no MAC')`); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			c.seed(t, db)
			migrateDownTo(t, db, auditMACMigration)
			err := postgres.MigrateDown(t.Context(), db.DB)
			if err == nil || !strings.Contains(err.Error(), "would lose what proves the trail whole") {
				t.Fatalf("rollback of the MAC migration: %v", err)
			}
			if current, _, _ := postgres.MigrationStatus(t.Context(), db.DB); current != auditMACMigration {
				t.Fatalf("schema at %d after the refused rollback", current)
			}
		})
	}
}

// TestRollbackKeepsStagedAuditRecords: a record staged (by a version
// before MACs) and not chained yet is never dropped by a rollback; back on
// the current schema, it is adopted into the chain.
func TestRollbackKeepsStagedAuditRecords(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_pending (at, actor, action, subject) VALUES ($1, 'customer', 'keys.revealed', 'ord-1')`, t0); err != nil {
		t.Fatal(err)
	}
	migrateDownTo(t, db, auditPendingMigration)
	err := postgres.MigrateDown(t.Context(), db.DB)
	if err == nil || !strings.Contains(err.Error(), "audit_pending holds records") {
		t.Fatalf("rollback with a staged record: %v", err)
	}
	if err := postgres.MigrateUp(t.Context(), db.DB); err != nil {
		t.Fatal(err)
	}
	log := newAuditLog(t, db, newAuditClock(t0.Add(time.Hour)))
	if n, err := log.Verify(t.Context()); err != nil || n != 2 {
		t.Fatalf("after the refused rollback: %d records, %v; want the staged one chained and its adoption", n, err)
	}
	if got := listAllAudit(t, log); got[0].Subject != "ord-1" {
		t.Errorf("seq 1 = %+v, want the staged record", got[0])
	}
}
