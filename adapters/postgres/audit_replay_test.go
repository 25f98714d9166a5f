package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// A staged row copied with its valid MAC, while it waits or after it was
// chained, is chained once: the sealer quarantines each copy and keeps
// chaining the genuine rows.
func TestAuditSealerQuarantinesReplayedStagedRecords(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	stage := func(subject string) {
		t.Helper()
		if err := postgres.NewTransactor(db).Atomically(t.Context(), func(ctx context.Context) error {
			_, err := log.Append(ctx, "admin:key-1", "keys.revealed", subject, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	stage("ord-1")
	cols := pendingColumns(t, db)
	mustExec(t, db, `CREATE TABLE replay_stash AS SELECT * FROM audit_pending`)
	// Replayed while the original waits, in the same batch.
	mustExec(t, db, `INSERT INTO audit_pending (`+cols+`) SELECT `+cols+` FROM audit_pending`)
	if n, err := log.Seal(t.Context()); n != 1 || err != nil {
		t.Fatalf("Seal = %d, %v; want the original chained once", n, err)
	}
	// Replayed after the original was chained, next to a genuine row.
	mustExec(t, db, `INSERT INTO audit_pending (`+cols+`) SELECT `+cols+` FROM replay_stash`)
	stage("ord-2")
	if n, err := log.Seal(t.Context()); n != 1 || err != nil {
		t.Fatalf("Seal = %d, %v; want the genuine ord-2 chained", n, err)
	}

	var subjects []string
	for _, r := range listAllAudit(t, log) {
		subjects = append(subjects, r.Subject)
	}
	if len(subjects) != 2 || subjects[0] != "ord-1" || subjects[1] != "ord-2" {
		t.Errorf("chain subjects = %v, want [ord-1 ord-2]", subjects)
	}
	if n := countRows(t, db, "audit_quarantine"); n != 2 {
		t.Errorf("audit_quarantine holds %d rows, want the 2 copies", n)
	}
	wantQuarantined(t, log, 2, 2)
}

// pendingColumns lists audit_pending's columns but its id, as a writer
// copying rows names them.
func pendingColumns(t *testing.T, db *sqlx.DB) string {
	t.Helper()
	var cols string
	if err := db.GetContext(t.Context(), &cols, `SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'audit_pending' AND column_name <> 'id'`); err != nil {
		t.Fatal(err)
	}
	return cols
}

// wantQuarantined checks that Verify reports a whole chain of verified
// records with quarantined staged records beside it.
func wantQuarantined(t *testing.T, log *postgres.AuditLog, verified, quarantined int) {
	t.Helper()
	n, err := log.Verify(t.Context())
	var q *domain.AuditQuarantineError
	if !errors.As(err, &q) || n != verified || q.Count != quarantined || len(q.PendingIDs) != quarantined {
		t.Errorf("Verify = %d, %v; want %d verified and %d quarantined", n, err, verified, quarantined)
	}
}
