package messaging_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestWakeupSubscriberDelivers: a subscriber woken by the outbox gets each
// committed event once and never a rolled-back one. (How soon depends on
// the whole Postgres cluster: the queue shows an event once every older
// transaction has ended; TestWakeupSignalsCommittedTopics checks the
// wake-up itself.)
func TestWakeupSubscriberDelivers(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	w, err := messaging.NewWakeup(url, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	sub, err := messaging.NewSQLSubscriber(db, quiet(), messaging.SQLQueueOptions{Wakeup: w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	topic := messaging.PartitionedTopic(domain.EventOrderPaid, "o-1", 1)
	if err := messaging.InitializeTopics(sub, 1, domain.EventOrderPaid); err != nil {
		t.Fatal(err)
	}
	msgs, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	outbox := messaging.NewSQLOutbox(quiet(), 1)
	publish := func(id string, commit bool) {
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := outbox.PublishTx(t.Context(), tx, domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: id, At: time.Now()}); err != nil {
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
	for i := range 3 {
		publish("rolled-back", false)
		publish("o-1", true)
		select {
		case m := <-msgs:
			ev, err := messaging.ParseMessage(m)
			if err != nil {
				t.Fatal(err)
			}
			m.Ack()
			if ev.OrderID != "o-1" {
				t.Fatalf("round %d: got %s, want o-1 (the rolled-back event must not appear)", i, ev.OrderID)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no message", i)
		}
	}
}
