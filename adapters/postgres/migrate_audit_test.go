package postgres_test

import (
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
	log := postgres.NewAuditLog(db, &auditClock{})
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
	if n, err := log.Verify(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the refused rollback: %d records, %v", n, err)
	}
}
