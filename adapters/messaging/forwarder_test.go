package messaging_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/internal/testkit"
)

// flakyBroker is a real NATS broker whose publishing can be cut, as when
// the broker is down or unreachable.
type flakyBroker struct {
	*messaging.NATS
	down      atomic.Bool
	attempted atomic.Int32
}

func (b *flakyBroker) Publish(topic string, msgs ...*message.Message) error {
	b.attempted.Add(1)
	if b.down.Load() {
		return errors.New("broker unreachable")
	}
	return b.NATS.Publish(topic, msgs...)
}

// TestForwardingSurvivesBrokerOutage: while the broker refuses messages
// they stay in the outbox, also across a restart of the forwarding
// process, and reach the broker once it is back.
func TestForwardingSurvivesBrokerOutage(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	topic := "forwarder." + time.Now().Format("150405.000000") + ".p0"
	t.Cleanup(func() { _ = newNATS(t).Remove(context.Background(), topic) })

	outboxPub, err := messaging.NewSQLPublisher(db, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := outboxPub.Publish(topic, message.NewMessage("kept", []byte(`{"n":1}`))); err != nil {
		t.Fatal(err)
	}

	// The first process cannot reach the broker and stops.
	first := &flakyBroker{NATS: newNATS(t)}
	first.down.Store(true)
	fwd1 := messaging.NewForwarding(first, newOutbox(t, db), quiet())
	ctx1, stop1 := context.WithCancel(t.Context())
	if _, err := fwd1.Subscribe(ctx1, topic); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the forwarder to try the broker", func() bool { return first.attempted.Load() >= 2 })
	stop1()
	if err := fwd1.Close(); err != nil {
		t.Fatal(err)
	}

	// The next one reaches it: the message was not lost meanwhile.
	second := &flakyBroker{NATS: newNATS(t)}
	fwd2 := messaging.NewForwarding(second, newOutbox(t, db), quiet())
	msgs, err := fwd2.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fwd2.Close() })
	select {
	case m := <-msgs:
		if m.UUID != "kept" {
			t.Fatalf("got %s, want the message kept in the outbox", m.UUID)
		}
		m.Ack()
	case <-time.After(30 * time.Second):
		t.Fatal("the message never reached the broker")
	}
	// Acknowledged in the outbox once the broker had it: a third
	// forwarder finds nothing to send.
	testkit.Eventually(t, 30*time.Second, "the outbox to acknowledge the forwarded message", func() bool {
		var left int
		err := db.QueryRow(`SELECT count(*) FROM "watermill_`+topic+`" m WHERE m.offset > COALESCE((SELECT offset_acked FROM "watermill_offsets_`+topic+`" WHERE consumer_group = $1), 0)`, messaging.ConsumerGroup).Scan(&left)
		return err == nil && left == 0
	})
}

func newOutbox(t *testing.T, db *sql.DB) message.Subscriber {
	t.Helper()
	sub, err := messaging.NewSQLSubscriber(db, quiet(), messaging.SQLQueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
