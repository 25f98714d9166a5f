package bootstrap

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// TestConcludingUnitAcknowledgesItsMessage: on the Postgres queue, a
// pipeline handling's concluding unit of work (ports.Concluding, through
// withConcludingAck) writes its message's offset with its own writes, and
// the consume transaction then writes nothing: the handling costs one
// write transaction, not two. A unit of work that does not conclude
// acknowledges nothing, and the subscriber acknowledges its message in
// the consume transaction, as before.
func TestConcludingUnitAcknowledgesItsMessage(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	ctx := t.Context()
	const topic, group = "order.paid.p0", "keyward.test"
	ids := publishPaid(t, db, topic, "concludes", "does-not")

	var (
		mu  sync.Mutex
		txs []postgres.TxTrace
	)
	counter := &postgres.SQLCounter{}
	counter.Trace(func(tx postgres.TxTrace) {
		mu.Lock()
		defer mu.Unlock()
		txs = append(txs, tx)
	})
	cdb, err := postgres.OpenCounting(ctx, url, counter)
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	units, marks := postgres.NewTransactor(cdb), postgres.NewSentMail(cdb)
	handle := withConcludingAck(func(ctx context.Context, ev domain.OrderEvent) error {
		if err := units.Atomically(ctx, func(ctx context.Context) error {
			_, err := marks.MarkAudited(ctx, "begun-"+ev.OrderID, time.Now())
			return err
		}); err != nil {
			return err
		}
		if ev.OrderID != "concludes" {
			return nil
		}
		return units.Atomically(ports.Concluding(ctx), func(ctx context.Context) error {
			_, err := marks.MarkAudited(ctx, "done-"+ev.OrderID, time.Now())
			return err
		})
	})
	acked, offsetOf := queuePositions(t, db, topic, group)

	sub, ch := subscribeGroup(t, cdb.DB, group, topic)
	for _, id := range ids {
		m := testkit.Receive(t, ch, 30*time.Second, "a message")
		if m.UUID != id {
			t.Fatalf("handed out %s, want %s", m.UUID, id)
		}
		ev, err := messaging.ParseMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := handle(m.Context(), ev); err != nil {
			t.Fatal(err)
		}
		m.Ack()
		testkit.Eventually(t, 10*time.Second, "the offset at "+ev.OrderID, func() bool { return acked() == offsetOf(id) })
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var consumes []postgres.TxTrace
	for _, tx := range txs {
		if strings.Contains(strings.Join(tx.Statements, "\n"), "keyward consumer lock") && tx.Kind != "idle" {
			consumes = append(consumes, tx)
		}
	}
	if len(consumes) != 2 {
		t.Fatalf("%d consume transactions read a message, want 2: %+v", len(consumes), consumes)
	}
	// The trace cannot tell which message a consume transaction read,
	// but they came one after the other.
	if consumes[0].Kind != "read" {
		t.Errorf("the consume transaction of the concluded handling is a %s transaction, want read (its message acknowledged by the concluding unit): %q", consumes[0].Kind, consumes[0].Statements)
	}
	if consumes[1].Kind != "write" {
		t.Errorf("the consume transaction of the handling that did not conclude is a %s transaction, want write (the subscriber's acknowledgement)", consumes[1].Kind)
	}
	// MarkAudited's key is an argument, not in the text: the units are
	// told apart by their order among the marks.
	var marksSent []postgres.TxTrace
	for _, tx := range txs {
		if strings.Contains(strings.Join(tx.Statements, "\n"), "sent_mail_audited") {
			marksSent = append(marksSent, tx)
		}
	}
	if len(marksSent) != 3 {
		t.Fatalf("%d units of work wrote a mark, want 3", len(marksSent))
	}
	for i, want := range []bool{false, true, false} {
		got := strings.Contains(strings.Join(marksSent[i].Statements, "\n"), `INSERT INTO "watermill_offsets_`)
		if got != want {
			t.Errorf("unit of work %d (of begun, done, begun) acknowledged a message: %v, want %v", i+1, got, want)
		}
	}
}
