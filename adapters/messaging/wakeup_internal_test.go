package messaging

import (
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestWakeupSignalsCommittedTopics: the outbox's commit wakes the waiters
// of exactly the topics it wrote; a rolled-back publish wakes nobody.
func TestWakeupSignalsCommittedTopics(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
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
