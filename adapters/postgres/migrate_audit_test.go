package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// auditLogMigration is the version of migrations/00002_audit_log.sql.
const auditLogMigration = 2

// TestRollbackKeepsAuditRecords: migrating down never drops audit records.
func TestRollbackKeepsAuditRecords(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, &auditClock{})
	if _, err := log.Append(t.Context(), "admin:1", "keys.rotated", "transit-key", nil); err != nil {
		t.Fatal(err)
	}
	// Roll back what came after the audit log, then the audit log itself.
	for {
		current, _, err := postgres.MigrationStatus(t.Context(), db.DB)
		if err != nil {
			t.Fatal(err)
		}
		if current <= auditLogMigration {
			break
		}
		if err := postgres.MigrateDown(t.Context(), db.DB); err != nil {
			t.Fatalf("MigrateDown from %d: %v", current, err)
		}
	}
	err := postgres.MigrateDown(t.Context(), db.DB)
	if err == nil || !strings.Contains(err.Error(), "audit_log holds records") {
		t.Fatalf("rollback with audit records: %v", err)
	}
	// The code reads a newer schema than this one: count the rows.
	if n := countRows(t, db, "audit_log"); n != 1 {
		t.Fatalf("after the refused rollback: %d records, want 1", n)
	}
}

// auditPendingMigration is the version of migrations/00013_audit_pending.sql.
const auditPendingMigration = 13

// TestRollbackKeepsStagedAuditRecords: a record staged by a committed unit
// of work and not chained yet is never dropped by a rollback.
func TestRollbackKeepsStagedAuditRecords(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, &auditClock{})
	err := postgres.NewTransactor(db).Atomically(t.Context(), func(ctx context.Context) error {
		_, err := log.Append(ctx, "customer", "keys.revealed", "ord-1", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		current, _, err := postgres.MigrationStatus(t.Context(), db.DB)
		if err != nil {
			t.Fatal(err)
		}
		if current <= auditPendingMigration {
			break
		}
		if err := postgres.MigrateDown(t.Context(), db.DB); err != nil {
			t.Fatalf("MigrateDown from %d: %v", current, err)
		}
	}
	err = postgres.MigrateDown(t.Context(), db.DB)
	if err == nil || !strings.Contains(err.Error(), "audit_pending holds records") {
		t.Fatalf("rollback with a staged record: %v", err)
	}
	if n, err := log.Verify(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the refused rollback: %d records, %v; want the staged one chained", n, err)
	}
	if err := postgres.MigrateDown(t.Context(), db.DB); err != nil {
		t.Fatalf("rollback once nothing is staged: %v", err)
	}
}
