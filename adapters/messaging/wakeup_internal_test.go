package messaging

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// TestWakeupSignalsCommittedTopics: the outbox's commit wakes the waiters
// of exactly the topics it wrote; a rolled-back publish wakes nobody.
func TestWakeupSignalsCommittedTopics(t *testing.T) {
	t.Parallel()
	db, url := testDB(t)
	sub, err := NewSQLSubscriber(db, slog.New(slog.NewTextHandler(io.Discard, nil)), SQLQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := InitializeTopics(sub, 1, domain.EventOrderPaid, domain.EventOrderPlaced); err != nil {
		t.Fatal(err)
	}
	w, err := NewWakeup(url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	paid, placed := w.register(domain.EventOrderPaid), w.register(domain.EventOrderPlaced)
	outbox := NewSQLOutbox(slog.New(slog.NewTextHandler(io.Discard, nil)), 1)
	publish := func(name string, commit bool) {
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := outbox.PublishTx(t.Context(), tx, domain.OrderEvent{Name: name, OrderID: "o-1", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if !commit {
			_ = tx.Rollback()
			return
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	publish(domain.EventOrderPlaced, false)
	publish(domain.EventOrderPaid, true)
	select {
	case <-paid:
	case <-time.After(10 * time.Second):
		t.Fatal("the committed publish woke nobody")
	}
	// Notifications arrive in commit order: had the rolled-back publish
	// notified, its signal would be here already.
	select {
	case <-placed:
		t.Fatal("a rolled-back publish woke its topic")
	default:
	}
}

// TestCancelledPollIsNoError: a poll whose context the stop cancels fails
// with lib/pq's 57014 "user request" and counts as the stop, while a
// statement_timeout (also 57014) and other errors stay errors.
func TestCancelledPollIsNoError(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	// Cancelled once the server runs it, as the stop cancels a poll (a
	// deadline that ran out before the query was sent would fail in the
	// driver instead).
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := db.ExecContext(ctx, "SELECT pg_sleep(5)")
		done <- err
	}()
	testkit.Eventually(t, 10*time.Second, "the query running", func() bool {
		var n int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = 'SELECT pg_sleep(5)' AND state = 'active'`).Scan(&n)
		return err == nil && n > 0
	})
	cancel()
	cancelled := testkit.Receive(t, done, 10*time.Second, "the cancelled query's error")
	if cancelled == nil || !cancelledPoll(cancelled) {
		t.Fatalf("a cancelled query (%v) is not recognised as the stop", cancelled)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "SET statement_timeout = '20ms'"); err != nil {
		t.Fatal(err)
	}
	_, timedOut := conn.ExecContext(t.Context(), "SELECT pg_sleep(5)")
	if timedOut == nil || cancelledPoll(timedOut) {
		t.Fatalf("a statement timeout (%v) is taken for the stop", timedOut)
	}
	if cancelledPoll(io.ErrUnexpectedEOF) {
		t.Fatal("an ordinary error is taken for the stop")
	}
	closing := make(chan struct{})
	b := &wakeBackoff{closing: closing}
	if b.stopping(io.ErrUnexpectedEOF) {
		t.Fatal("an error before the stop is taken for the stop")
	}
	close(closing)
	if !b.stopping(io.ErrUnexpectedEOF) {
		t.Fatal("an error after the stop began is logged as an error")
	}
}

// TestWakeupStartGivesUpWithItsContext: a listener that cannot connect
// (nothing listens on the port) ends Start when its context ends, with an
// error, instead of holding the process's start up, and is closed then:
// nothing keeps reconnecting behind the failed start. Close after it is
// harmless.
func TestWakeupStartGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	w := PrepareWakeup("postgres://postgres@127.0.0.1:1/keyward?sslmode=disable&connect_timeout=1", slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Start(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Start connecting to nothing: %v, want its context's deadline", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Start did not give up when its context ended")
	}
	w.mu.Lock()
	left := w.listener
	w.mu.Unlock()
	if left != nil {
		t.Fatal("the listener of the failed start is still kept (and reconnecting)")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close after a failed start: %v", err)
	}
}
