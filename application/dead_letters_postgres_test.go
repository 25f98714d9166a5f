package application_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// retriedOnceTx is a Transactor whose next unit of work, once armed, ends
// its first attempt with a serialization failure after fn has done its
// work: Postgres rolls it back and runs fn again, as when the server
// aborts a transaction.
type retriedOnceTx struct {
	ports.Transactor
	armed atomic.Bool
}

func (r *retriedOnceTx) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if !r.armed.CompareAndSwap(true, false) {
		return r.Transactor.Atomically(ctx, fn)
	}
	attempts := 0
	return r.Transactor.Atomically(ctx, func(ctx context.Context) error {
		attempts++
		if err := fn(ctx); err != nil || attempts > 1 {
			return err
		}
		return &pq.Error{Code: pqerror.TRSerializationFailure, Message: "could not serialize access (injected)"}
	})
}

// pgReplay is ReplayDeadLetter on Postgres with one dead letter, "dl-1",
// stored; tx wraps the Postgres transactor and audit the Postgres log.
type pgReplay struct {
	replay  application.ReplayDeadLetter
	letters *postgres.DeadLetters
	audit   ports.AuditLog
	requeue *requeueRecorder
}

func newPGReplay(t *testing.T, tx func(ports.Transactor) ports.Transactor, audit func(ports.AuditLog) ports.AuditLog) pgReplay {
	t.Helper()
	db := pgtest.NewDB(t)
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	clk := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	log := postgres.NewAuditLog(db, clk, application.NewAuditKey(kr, postgres.NewDataKeys(db)), slog.New(slog.DiscardHandler))
	if err := log.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := pgReplay{letters: postgres.NewDeadLetters(db), audit: log, requeue: &requeueRecorder{}}
	if err := r.letters.Add(t.Context(), ports.DeadLetter{ID: "dl-1", Topic: "order.paid", OrderID: "ord-1", Reason: "boom",
		Attempts: 6, Payload: []byte(`{}`), CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	r.replay = application.NewReplayDeadLetter(tx(postgres.NewTransactor(db)), r.letters, r.requeue, audit(log), clk)
	return r
}

// assert checks how often the letter was requeued, whether it still waits
// for a replay, and that its replay is audited once when it does not.
func (r pgReplay) assert(t *testing.T, requeued int, waiting bool) {
	t.Helper()
	if n := r.requeue.count(); n != requeued {
		t.Errorf("requeued %d times, want %d", n, requeued)
	}
	if n, err := r.letters.Count(t.Context()); err != nil || (n == 1) != waiting {
		t.Errorf("%d letters waiting (%v), want waiting=%t", n, err, waiting)
	}
	recs, err := r.audit.List(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, rec := range recs {
		if rec.Action == application.AuditDeadLetterReplayed {
			audited++
		}
	}
	if want := map[bool]int{true: 0, false: 1}[waiting]; audited != want {
		t.Errorf("replay audited %d times, want %d", audited, want)
	}
}

// TestReplayDeadLetterRetriedUnitOfWorkRequeuesOnce: a unit of work that
// Postgres runs again (a serialization failure) does not publish the
// message again: the requeue runs before it, outside.
func TestReplayDeadLetterRetriedUnitOfWorkRequeuesOnce(t *testing.T) {
	t.Parallel()
	var tx *retriedOnceTx
	r := newPGReplay(t, func(pt ports.Transactor) ports.Transactor {
		tx = &retriedOnceTx{Transactor: pt}
		return tx
	}, func(a ports.AuditLog) ports.AuditLog { return a })
	tx.armed.Store(true)
	if _, first, err := r.replay.Handle(t.Context(), "dl-1", "admin"); err != nil || !first {
		t.Fatalf("replay: first=%t err=%v, want the first replay", first, err)
	}
	if tx.armed.Load() {
		t.Fatal("the replay ran no unit of work")
	}
	r.assert(t, 1, false)
}

// TestReplayDeadLetterFailedUnitOfWorkLeavesItWaiting: when the unit of
// work that marks and audits the replay fails after the publish, the
// letter is neither lost nor marked: it waits, a second replay requeues it
// again (the handlers absorb the second delivery), marks and audits it
// once, and a third does nothing.
func TestReplayDeadLetterFailedUnitOfWorkLeavesItWaiting(t *testing.T) {
	t.Parallel()
	var audit *auditFailingOnce
	r := newPGReplay(t, func(pt ports.Transactor) ports.Transactor { return pt }, func(a ports.AuditLog) ports.AuditLog {
		audit = &auditFailingOnce{AuditLog: a, action: application.AuditDeadLetterReplayed}
		return audit
	})
	audit.armed.Store(true)
	if _, _, err := r.replay.Handle(t.Context(), "dl-1", "admin"); err == nil {
		t.Fatal("replay whose unit of work failed succeeded")
	}
	r.assert(t, 1, true)
	for i, want := range []bool{true, false} {
		if _, first, err := r.replay.Handle(t.Context(), "dl-1", "admin"); err != nil || first != want {
			t.Fatalf("replay %d: first=%t err=%v, want %t", i+2, first, err, want)
		}
	}
	r.assert(t, 2, false)
}
