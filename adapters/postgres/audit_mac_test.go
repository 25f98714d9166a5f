package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// A writer with database rights alone can append a record whose hash
// chains correctly (INSERT is allowed), but not its MAC: Verify refuses it.
func TestAuditLogVerifyRefusesAForgedRowWithACorrectHash(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mac  func(t *testing.T, db *sqlx.DB, forged domain.AuditRecord, head domain.AuditRecord) *string
	}{
		{"no MAC", func(*testing.T, *sqlx.DB, domain.AuditRecord, domain.AuditRecord) *string { return nil }},
		{"the MAC of the record before", func(_ *testing.T, _ *sqlx.DB, _, head domain.AuditRecord) *string { return &head.MAC }},
		{"a MAC under another key", func(t *testing.T, db *sqlx.DB, forged, _ domain.AuditRecord) *string {
			other, err := application.NewAuditKey(otherKeyring(t), postgres.NewDataKeys(pgtest.NewDB(t))).Sign(t.Context(), domain.AuditMACInput(forged))
			if err != nil {
				t.Fatal(err)
			}
			return &other
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			log := newAuditLog(t, db, newAuditClock(t0))
			appendAuditRecords(t, log, 3)
			head := listAllAudit(t, log)[2]
			forged, err := domain.NewAuditRecord("admin:key-1", "keys.revealed", "ord-99", nil)
			if err != nil {
				t.Fatal(err)
			}
			forged.Seq, forged.At = 4, head.At.Add(time.Second)
			forged = domain.ChainAuditRecord(head.Hash, forged)
			mac := tt.mac(t, db, forged, head)
			// The table's owner can turn off the trigger that refuses a
			// record without a MAC.
			mustExec(t, db, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_mac_required`)
			if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash, mac)
				VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, $8)`, forged.Seq, forged.At, forged.Actor, forged.Action, forged.Subject,
				forged.PrevHash, forged.Hash, mac); err != nil {
				t.Fatalf("forge: %v", err)
			}
			mustExec(t, db, `ALTER TABLE audit_log ENABLE TRIGGER audit_log_mac_required`)
			n, err := newAuditLog(t, db, newAuditClock(t0)).Verify(t.Context())
			wantAuditChainBroken(t, n, err, 3, 4)
		})
	}
}

// A row inserted straight into audit_pending (no MAC, or one that does not
// verify) never enters the chain: the sealer moves it to audit_quarantine
// and chains the genuine records staged around it.
func TestAuditSealerRefusesForgedStagedRows(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	appendAuditRecords(t, log, 1)
	tx := postgres.NewTransactor(db)
	stage := func(subject string) {
		t.Helper()
		if err := tx.Atomically(t.Context(), func(ctx context.Context) error {
			_, err := log.Append(ctx, "system", "test.staged", subject, nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	stage("genuine-1")
	for _, stmt := range []string{
		`INSERT INTO audit_pending (at, actor, action, subject) VALUES (now(), 'admin:key-1', 'keys.revealed', 'forged-no-mac')`,
		`INSERT INTO audit_pending (at, actor, action, subject, mac) VALUES (now(), 'admin:key-1', 'keys.revealed', 'forged-bad-mac', repeat('ab', 32))`,
		// A genuine row's MAC copied onto other content.
		`INSERT INTO audit_pending (at, actor, action, subject, mac)
			SELECT at, actor, action, 'forged-copied-mac', mac FROM audit_pending WHERE subject = 'genuine-1'`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	stage("genuine-2")

	if n, err := log.Seal(t.Context()); n != 2 || err != nil {
		t.Fatalf("Seal = %d, %v; want the 2 genuine records chained", n, err)
	}
	var subjects []string
	for _, r := range listAllAudit(t, log) {
		subjects = append(subjects, r.Subject)
	}
	if got := strings.Join(subjects, ","); got != "ord-1,genuine-1,genuine-2" {
		t.Errorf("chain subjects = %s, want ord-1,genuine-1,genuine-2", got)
	}
	var quarantined []string
	if err := db.SelectContext(t.Context(), &quarantined, `SELECT subject FROM audit_quarantine ORDER BY pending_id`); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(quarantined, ","); got != "forged-no-mac,forged-bad-mac,forged-copied-mac" {
		t.Errorf("quarantined = %s, want the three forged rows", got)
	}
	if n := countRows(t, db, "audit_pending"); n != 0 {
		t.Errorf("%d rows left in audit_pending", n)
	}
	wantQuarantined(t, log, 3, 3)
}

// Only the sealer deletes from audit_pending: a plain DELETE, even one that
// matches nothing, fails, and the staged record is still chained after.
func TestAuditPendingRefusesAPlainDelete(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	if err := postgres.NewTransactor(db).Atomically(t.Context(), func(ctx context.Context) error {
		_, err := log.Append(ctx, "system", "test.staged", "ord-1", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`DELETE FROM audit_pending`, `DELETE FROM audit_pending WHERE false`} {
		if _, err := db.ExecContext(t.Context(), stmt); !refusedBy(err, "only through the audit sealer") {
			t.Errorf("%s: err = %v, want the trigger's refusal", stmt, err)
		}
	}
	if n := countRows(t, db, "audit_pending"); n != 1 {
		t.Fatalf("audit_pending holds %d rows, want the staged one", n)
	}
	if n, err := log.Verify(t.Context()); n != 1 || err != nil {
		t.Errorf("Verify = %d, %v; want the staged record chained", n, err)
	}
}

// A trail written before MACs (and a record still staged by the old
// version) is adopted once: one MACed audit.mac_adopted record names the
// last record without a MAC, the trail verifies, and any record without a
// MAC after it does not.
func TestAuditLogAdoptsATrailWrittenBeforeMACs(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	insertChain(t, db, 4, nil)
	if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_pending (at, actor, action, subject) VALUES ($1, 'system', 'test.legacy', 'ord-5')`, t0); err != nil {
		t.Fatal(err)
	}
	log := newAuditLog(t, db, newAuditClock(t0.Add(time.Hour)))
	if n, err := log.Verify(t.Context()); n != 6 || err != nil {
		t.Fatalf("Verify after adoption = %d, %v; want 6, nil", n, err)
	}
	got := listAllAudit(t, log)
	adoption := got[5]
	if got[4].Subject != "ord-5" || got[4].MAC != "" ||
		adoption.Action != domain.AuditMACAdopted || adoption.Details["through_seq"] != "5" || adoption.MAC == "" {
		t.Fatalf("after adoption: seq 5 = %+v, seq 6 = %+v", got[4], adoption)
	}
	// A second process adopts nothing more.
	appendAuditRecords(t, newAuditLog(t, db, newAuditClock(t0.Add(2*time.Hour))), 1)
	if n := countRows(t, db, "audit_log"); n != 7 {
		t.Fatalf("audit_log holds %d records, want 7 (one adoption only)", n)
	}
	// A record without a MAC after the adoption is a forgery (written by
	// the table's owner, with the trigger that refuses it turned off).
	mustExec(t, db, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_mac_required`)
	head := listAllAudit(t, log)[6]
	forged, _ := domain.NewAuditRecord("system", "test.forged", "ord-x", nil)
	forged.Seq, forged.At = 8, head.At.Add(time.Second)
	forged = domain.ChainAuditRecord(head.Hash, forged)
	if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, '{}', $6, $7)`, forged.Seq, forged.At, forged.Actor, forged.Action, forged.Subject, forged.PrevHash, forged.Hash); err != nil {
		t.Fatal(err)
	}
	n, err := log.Verify(t.Context())
	wantAuditChainBroken(t, n, err, 7, 8)
}
