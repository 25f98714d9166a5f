package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// An attacker who owns the table strips every MAC (or deletes every row)
// and appends a forged row with a correct hash: no later run adopts that
// trail again, so verification names the first record without a MAC.
func TestAuditLogNeverReadoptsATrailStrippedOfMACs(t *testing.T) {
	t.Parallel()
	for _, strip := range []string{
		`UPDATE audit_log SET mac = NULL`,
		`DELETE FROM audit_log`,
	} {
		t.Run(strip, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			appendAuditRecords(t, newAuditLog(t, db, newAuditClock(t0)), 3)
			asTableOwner(t, db, strip)
			prevSeq, prevHash := int64(0), domain.GenesisAuditHash
			_ = db.QueryRowContext(t.Context(), `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&prevSeq, &prevHash)
			forged, _ := domain.NewAuditRecord("admin:key-1", "keys.revealed", "ord-forged", nil)
			forged.Seq, forged.At = prevSeq+1, t0.Add(time.Hour)
			forged = domain.ChainAuditRecord(prevHash, forged)
			if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)
				VALUES ($1, $2, $3, $4, $5, '{}', $6, $7)`, forged.Seq, forged.At, forged.Actor, forged.Action, forged.Subject, forged.PrevHash, forged.Hash); err != nil {
				t.Fatalf("forge: %v", err)
			}

			n, err := newAuditLog(t, db, newAuditClock(t0.Add(2*time.Hour))).Verify(t.Context())
			wantAuditChainBroken(t, n, err, 0, 1)
			var adoptions int
			if err := db.GetContext(t.Context(), &adoptions, `SELECT count(*) FROM audit_log WHERE action = $1`, domain.AuditMACAdopted); err != nil {
				t.Fatal(err)
			}
			if adoptions != 0 {
				t.Errorf("%d audit.mac_adopted records vouch for the stripped trail, want none", adoptions)
			}
		})
	}
}

// A stored key that vanished while records carry MACs made under it is an
// alarm: no new key is made over the trail.
func TestAuditKeyIsNotMadeAnewOverAMACedTrail(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	appendAuditRecords(t, newAuditLog(t, db, newAuditClock(t0)), 1)
	if _, err := db.ExecContext(t.Context(), `DELETE FROM data_keys WHERE order_id = $1`, application.AuditKeyID); err != nil {
		t.Fatal(err)
	}
	err := newAuditKey(db).Load(t.Context())
	if !errors.Is(err, application.ErrAuditKeyMissing) {
		t.Fatalf("Load = %v, want ErrAuditKeyMissing", err)
	}
	var stored int
	if err := db.GetContext(t.Context(), &stored, `SELECT count(*) FROM data_keys WHERE order_id = $1`, application.AuditKeyID); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("a new audit key was stored")
	}
}

// asTableOwner runs stmt on audit_log with its triggers (append-only, MAC
// required) off, as the table's owner can.
func asTableOwner(t *testing.T, db *sqlx.DB, stmt string) {
	t.Helper()
	for _, s := range []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, stmt,
		`ALTER TABLE audit_log ENABLE TRIGGER USER`} {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// A process of the version before MACs, still running after the upgrade,
// appends a record without a MAC after MACed ones: the database refuses
// it, rather than let it break the trail for good. Before any MAC, such
// records are still accepted (they are adopted).
func TestAuditLogRefusesARecordWithoutMACAfterMACedOnes(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	insertChain(t, db, 2, nil) // an old process's records, before the upgrade
	log := newAuditLog(t, db, newAuditClock(t0.Add(time.Hour)))
	appendAuditRecords(t, log, 1)
	head := listAllAudit(t, log)[3]
	old, _ := domain.NewAuditRecord("system", "keys.rotated", "ord-old", nil)
	old.Seq, old.At = head.Seq+1, head.At.Add(time.Second)
	old = domain.ChainAuditRecord(head.Hash, old)
	_, err := db.ExecContext(t.Context(), `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, '{}', $6, $7)`, old.Seq, old.At, old.Actor, old.Action, old.Subject, old.PrevHash, old.Hash)
	if !refusedBy(err, "has no MAC but the trail is MACed") {
		t.Fatalf("insert without a MAC = %v, want the trigger's refusal", err)
	}
	if n, err := log.Verify(t.Context()); n != 4 || err != nil {
		t.Errorf("Verify = %d, %v; want the 4 records whole", n, err)
	}
}
