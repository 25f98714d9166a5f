package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// Two units of work that each append a record must not wait for each
// other: with the chain's lock taken inside the business transaction, the
// second would queue until the first committed.
func TestAuditAppendsInUnitsOfWorkDoNotQueue(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	tx := postgres.NewTransactor(db)

	appended, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- tx.Atomically(t.Context(), func(ctx context.Context) error {
			if _, err := log.Append(ctx, "system", "test.first", "ord-1", nil); err != nil {
				return err
			}
			close(appended)
			<-release // still open while the second unit appends
			return nil
		})
	}()
	<-appended
	second := make(chan error, 1)
	go func() {
		second <- tx.Atomically(t.Context(), func(ctx context.Context) error {
			_, err := log.Append(ctx, "system", "test.second", "ord-2", nil)
			return err
		})
	}()
	select {
	case err := <-second:
		if err != nil {
			t.Fatalf("second unit: %v", err)
		}
	case err := <-first:
		t.Fatalf("the first unit ended (%v) before it was released", err)
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the second unit's append waited for the first unit to end")
	}
	// Sealed now, the second record is chained before the first, whose
	// unit of work has not committed.
	if n, err := log.Seal(t.Context()); n != 1 || err != nil {
		t.Errorf("Seal after the second commit = %d, %v; want 1, nil", n, err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first unit: %v", err)
	}
	got := listAllAudit(t, log)
	if len(got) != 2 || got[0].Action != "test.second" || got[1].Action != "test.first" {
		t.Fatalf("log = %v, want test.second then test.first (in commit order)", actions(got))
	}
	if n, err := log.Verify(t.Context()); n != 2 || err != nil {
		t.Errorf("Verify = %d, %v; want 2, nil", n, err)
	}
}

// A staged record commits with its unit of work and only then: a unit
// that rolls back leaves no record and wakes no sealer.
func TestStagedAuditRecordsCommitWithTheirWork(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	tx := postgres.NewTransactor(db)

	refused := errors.New("the work failed")
	err := tx.Atomically(t.Context(), func(ctx context.Context) error {
		r, err := log.Append(ctx, "system", "test.rolled-back", "ord-1", nil)
		if err != nil {
			return err
		}
		if r.Seq != 0 || r.Hash != "" {
			t.Errorf("a staged record has seq %d and hash %q before its work commits", r.Seq, r.Hash)
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("Atomically = %v, want %v", err, refused)
	}
	select {
	case <-log.Staged():
		t.Error("a rolled-back unit of work woke the sealer")
	default:
	}
	if n := countRows(t, db, "audit_pending") + countRows(t, db, "audit_log"); n != 0 {
		t.Fatalf("%d audit rows after a rolled-back unit of work", n)
	}

	details := map[string]string{"item": "ord-2-a", "unicode": "ünïcode ✓"}
	err = tx.Atomically(t.Context(), func(ctx context.Context) error {
		_, err := log.Append(ctx, "customer", "keys.revealed", "ord-2", details)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-log.Staged():
	default:
		t.Error("a committed unit of work with a staged record did not wake the sealer")
	}
	if n := countRows(t, db, "audit_pending"); n != 1 {
		t.Fatalf("%d staged rows after the commit, want 1 (chained by the sealer, not by the work)", n)
	}
	if n, err := log.Seal(t.Context()); n != 1 || err != nil {
		t.Fatalf("Seal = %d, %v; want 1, nil", n, err)
	}
	got := listAllAudit(t, log)
	if len(got) != 1 || got[0].Seq != 1 || got[0].Actor != "customer" || !maps.Equal(got[0].Details, details) ||
		got[0].PrevHash != domain.GenesisAuditHash || got[0].At.Nanosecond()%1000 != 0 {
		t.Fatalf("log = %+v, want the revealed record chained as seq 1", got)
	}
	if n := countRows(t, db, "audit_pending"); n != 0 {
		t.Errorf("%d staged rows left after sealing", n)
	}
	if n, err := log.Seal(t.Context()); n != 0 || err != nil {
		t.Errorf("Seal with nothing staged = %d, %v; want 0, nil", n, err)
	}
}

// Staged and direct appends from many writers and two sealers end in one
// chain holding each record once, in more than one sealing batch.
func TestAuditStagedAndDirectAppendsShareOneChain(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	clock := newAuditClock(t0)
	log, other := newAuditLog(t, db, clock), newAuditLog(t, db, clock) // two processes
	tx := postgres.NewTransactor(db)

	const units, perUnit, direct = 300, 2, 20
	var wg sync.WaitGroup
	for i := range units {
		wg.Go(func() {
			err := tx.Atomically(t.Context(), func(ctx context.Context) error {
				for j := range perUnit {
					if _, err := log.Append(ctx, "system", "test.staged", fmt.Sprintf("u%d-%d", i, j), nil); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Errorf("unit %d: %v", i, err)
			}
			if i%50 == 0 {
				if _, err := other.Seal(t.Context()); err != nil {
					t.Errorf("Seal while appending: %v", err)
				}
			}
		})
	}
	for i := range direct {
		wg.Go(func() {
			if _, err := other.Append(t.Context(), "system", "test.direct", fmt.Sprintf("d%d", i), nil); err != nil {
				t.Errorf("direct append %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := units*perUnit + direct
	got := listAllAudit(t, log)
	if len(got) != want {
		t.Fatalf("the log holds %d records, want %d", len(got), want)
	}
	seen := map[string]bool{}
	for i, r := range got {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d: a gap or a duplicate", i, r.Seq)
		}
		if seen[r.Subject] {
			t.Fatalf("%s chained twice", r.Subject)
		}
		seen[r.Subject] = true
	}
	if n, err := other.Verify(t.Context()); n != want || err != nil {
		t.Errorf("Verify = %d, %v; want %d, nil", n, err, want)
	}
}

// Sealing belongs after a commit, never inside the work, and staged rows
// are only ever moved to the log, never changed.
func TestAuditSealingRules(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	log := newAuditLog(t, db, newAuditClock(t0))
	tx := postgres.NewTransactor(db)
	err := tx.Atomically(t.Context(), func(ctx context.Context) error {
		if _, err := log.Append(ctx, "system", "test.staged", "ord-1", nil); err != nil {
			return err
		}
		_, err := log.Seal(ctx)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "unit of work") {
		t.Errorf("Seal inside a unit of work = %v, want a refusal", err)
	}
	err = tx.Atomically(t.Context(), func(ctx context.Context) error {
		_, err := log.Append(ctx, "system", "test.staged", "ord-1", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_pending SET subject = 'ord-99'`,
		`TRUNCATE audit_pending`,
	} {
		if _, err := db.ExecContext(t.Context(), stmt); !refusedBy(err, "only inserted and moved") {
			t.Errorf("%s: err = %v, want the trigger's refusal", stmt, err)
		}
	}
	if n, err := log.Verify(t.Context()); n != 1 || err != nil {
		t.Errorf("Verify = %d, %v; want the staged record chained and verified", n, err)
	}
}

func listAllAudit(t *testing.T, log *postgres.AuditLog) []domain.AuditRecord {
	t.Helper()
	got, err := log.List(t.Context(), 0, 100_000)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return got
}

func actions(rs []domain.AuditRecord) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Action
	}
	return out
}

func countRows(t *testing.T, db *sqlx.DB, table string) int {
	t.Helper()
	var n int
	if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}
