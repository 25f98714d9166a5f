package postgres_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

func TestAuditLog(t *testing.T) {
	t.Parallel()
	porttest.AuditLog(t, func(t *testing.T, clock ports.Clock, mac ports.AuditMAC) ports.AuditLog {
		return postgres.NewAuditLog(pgtest.NewDB(t), clock, mac, slog.New(slog.DiscardHandler))
	})
}

func TestAuditLogRefusesChanges(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	appendAuditRecords(t, log, 3)

	for _, stmt := range []string{
		`UPDATE audit_log SET subject = 'ord-99' WHERE seq = 2`,
		`UPDATE audit_log SET subject = subject WHERE false`,
		`DELETE FROM audit_log WHERE seq = 3`,
		`DELETE FROM audit_log WHERE false`,
		`TRUNCATE audit_log`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt); !refusedBy(err, "audit_log is append-only") {
			t.Errorf("%s: err = %v, want the append-only exception", stmt, err)
		}
	}
	if n, err := log.Verify(t.Context()); n != 3 || err != nil {
		t.Errorf("Verify = %d, %v; want 3, nil", n, err)
	}
}

// A superuser can disable the trigger; the chain still shows the edit.
func TestAuditLogVerifyFindsASuperusersEdits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    []string
		want    int
		wantSeq int64
	}{
		{"change a detail", []string{`UPDATE audit_log SET details = jsonb_set(details, '{item}', '"item-99"') WHERE seq = 3`}, 2, 3},
		{"add a detail", []string{`UPDATE audit_log SET details = details || '{"note": "x"}' WHERE seq = 3`}, 2, 3},
		{"change the actor", []string{`UPDATE audit_log SET actor = 'customer' WHERE seq = 3`}, 2, 3},
		{"move At by a microsecond", []string{`UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = 3`}, 2, 3},
		{"forge a hash", []string{`UPDATE audit_log SET hash = repeat('a', 64) WHERE seq = 3`}, 2, 3},
		{"delete a middle record", []string{`DELETE FROM audit_log WHERE seq = 3`}, 2, 4},
		{"delete the first record", []string{`DELETE FROM audit_log WHERE seq = 1`}, 0, 2},
		{"swap two records", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 4`,
			`UPDATE audit_log SET seq = 4 WHERE seq = 100`,
		}, 2, 3},
		{"details no longer strings", []string{`UPDATE audit_log SET details = '{"item": 7}' WHERE seq = 3`}, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			log := newAuditLog(t, db, newAuditClock(t0))
			appendAuditRecords(t, log, 5)
			superuserEdit(t, db, tt.edit...)
			n, err := log.Verify(t.Context())
			wantAuditChainBroken(t, n, err, tt.want, tt.wantSeq)
		})
	}
}

// Verify reads a page of records at a time: breaks within a later page and
// between pages are found too.
func TestAuditLogVerifyPages(t *testing.T) {
	t.Parallel()
	const n = 2345
	tests := []struct {
		name    string
		edit    string
		want    int
		wantSeq int64
	}{
		{"intact", "", n, 0},
		{"a detail changed in the second page", `UPDATE audit_log SET subject = 'ord-x' WHERE seq = 1500`, 1499, 1500},
		{"the first record of the second page deleted", `DELETE FROM audit_log WHERE seq = 1001`, 1000, 1002},
		{"the last record of the second page deleted", `DELETE FROM audit_log WHERE seq = 2000`, 1999, 2001},
		{"the last record changed", fmt.Sprintf(`UPDATE audit_log SET action = 'x' WHERE seq = %d`, n), n - 1, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			insertAuditChain(t, db, n)
			if tt.edit != "" {
				superuserEdit(t, db, tt.edit)
			}
			n, err := newAuditLog(t, db, newAuditClock(t0)).Verify(t.Context())
			if tt.wantSeq == 0 {
				if n != tt.want || err != nil {
					t.Fatalf("Verify = %d, %v; want %d, nil", n, err, tt.want)
				}
				return
			}
			wantAuditChainBroken(t, n, err, tt.want, tt.wantSeq)
		})
	}
}

// newAuditClock returns a clock that moves a millisecond and a few
// nanoseconds before each reading, starting from start.
func newAuditClock(start time.Time) *testkit.Clock {
	return testkit.NewSteppingClock(start, time.Millisecond+7*time.Nanosecond)
}

func appendAuditRecords(t *testing.T, log ports.AuditLog, n int) {
	t.Helper()
	for i := range n {
		if _, err := log.Append(t.Context(), "admin:key-1", "keys.revealed", fmt.Sprintf("ord-%d", i+1),
			map[string]string{"item": fmt.Sprintf("ord-%d-a", i+1)}); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

// insertAuditChain stores a valid chain of n records, MACed under db's
// audit key, straight into the table, far faster than n appends.
func insertAuditChain(t *testing.T, db *sqlx.DB, n int) {
	t.Helper()
	insertChain(t, db, n, newAuditKey(db))
}

// insertChain is insertAuditChain with the MACs made by key, or none
// (a trail written before MACs) when key is nil.
func insertChain(t *testing.T, db *sqlx.DB, n int, key ports.AuditMAC) {
	t.Helper()
	type row struct {
		Seq      int64     `db:"seq"`
		At       time.Time `db:"at"`
		Actor    string    `db:"actor"`
		Action   string    `db:"action"`
		Subject  string    `db:"subject"`
		Details  string    `db:"details"`
		PrevHash string    `db:"prev_hash"`
		Hash     string    `db:"hash"`
		MAC      *string   `db:"mac"`
	}
	const batch = 1000 // 9 parameters a row, below PostgreSQL's 65535
	rows := make([]row, 0, batch)
	prev := domain.GenesisAuditHash
	for i := range n {
		r, err := domain.NewAuditRecord("system", "keys.rotated", fmt.Sprintf("ord-%d", i+1), map[string]string{"i": fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		r.Seq, r.At = int64(i+1), t0.Add(time.Duration(i)*time.Second)
		r = domain.ChainAuditRecord(prev, r)
		prev = r.Hash
		details, _ := json.Marshal(r.Details)
		var mac *string
		if key != nil {
			m, err := key.Sign(t.Context(), domain.AuditMACInput(r))
			if err != nil {
				t.Fatal(err)
			}
			mac = &m
		}
		rows = append(rows, row{r.Seq, r.At, r.Actor, r.Action, r.Subject, string(details), r.PrevHash, r.Hash, mac})
		if len(rows) == batch || i == n-1 {
			if _, err := db.NamedExecContext(t.Context(), `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash, mac)
				VALUES (:seq, :at, :actor, :action, :subject, :details, :prev_hash, :hash, :mac)`, rows); err != nil {
				t.Fatalf("insert audit records: %v", err)
			}
			rows = rows[:0]
		}
	}
}

// superuserEdit runs stmts with the append-only trigger disabled, as a
// superuser (the test role) can.
func superuserEdit(t *testing.T, db *sqlx.DB, stmts ...string) {
	t.Helper()
	tx, err := db.BeginTxx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	stmts = append(append([]string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`}, stmts...),
		`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func wantAuditChainBroken(t *testing.T, n int, err error, want int, wantSeq int64) {
	t.Helper()
	var broken *domain.AuditChainError
	if !errors.As(err, &broken) || !errors.Is(err, domain.ErrAuditChainBroken) {
		t.Fatalf("Verify = %d, %v; want an *AuditChainError", n, err)
	}
	if n != want || broken.Seq != wantSeq {
		t.Errorf("Verify = %d, %v; want %d verified and the break at seq %d", n, err, want, wantSeq)
	}
}

// refusedBy reports whether err is the server's refusal whose message
// holds msg (a trigger's or a rule's exception).
func refusedBy(err error, msg string) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && strings.Contains(pqErr.Message, msg)
}
