package postgres_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// TestRollbackKeepsAuditRecords: migrating down never drops audit records.
func TestRollbackKeepsAuditRecords(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := postgres.NewAuditLog(db, &auditClock{})
	if _, err := log.Append(t.Context(), "admin:1", "keys.rotated", "transit-key", nil); err != nil {
		t.Fatal(err)
	}
	err := postgres.MigrateDown(t.Context(), db.DB)
	if err == nil || !strings.Contains(err.Error(), "audit_log holds records") {
		t.Fatalf("rollback with audit records: %v", err)
	}
	if n, err := log.Verify(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the refused rollback: %d records, %v", n, err)
	}
}
