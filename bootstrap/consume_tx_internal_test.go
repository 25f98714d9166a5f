package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// sentMailer sends nothing and counts what it was given; it never
// reports a duplicate, so that every send the handler makes is recorded.
type sentMailer struct{ sent int }

func (m *sentMailer) Send(context.Context, ports.Email) (ports.Receipt, error) {
	m.sent++
	return ports.Receipt{ProviderID: "sent"}, nil
}

// TestNotificationRecordCommitsWithItsAck: a notification handler's "email
// sent" audit record commits in the transaction that acknowledges its
// message on the Postgres queue. A handler that fails after writing the
// record leaves neither the record nor the acknowledgement (the message
// comes back); one that succeeds commits both. Were the record a
// transaction of its own, the failed handling would have left it behind.
func TestNotificationRecordCommitsWithItsAck(t *testing.T) {
	_, db := pgtest.NewDatabase(t)
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	audit := postgres.NewAuditLog(db, testkit.NewRunningClock(), application.NewAuditKey(kr, postgres.NewDataKeys(db)), log)
	if err := audit.Start(ctx); err != nil {
		t.Fatal(err)
	}
	mailer := &sentMailer{}
	audited := application.AuditMailer(mailer, postgres.NewTransactor(db), audit, log)

	const topic, group = "order.paid.p0", "keyward.notifications"
	pub, err := messaging.NewSQLPublisher(db.DB, log)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := messaging.NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: "order-1", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, msg); err != nil {
		t.Fatal(err)
	}
	records := func() (n int) {
		t.Helper()
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM audit_pending WHERE action = $1`, application.AuditEmailSent); err != nil {
			t.Fatal(err)
		}
		return n
	}
	acked := func() (n int) {
		t.Helper()
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM "watermill_offsets_`+topic+`" WHERE consumer_group = $1 AND offset_acked > 0`, group); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// handle is the notification consumer's handler, as the router runs
	// it, with fail deciding whether it fails after sending.
	handle := func(fail bool) func(context.Context, domain.OrderEvent) error {
		return withConsumeTx(func(ctx context.Context, ev domain.OrderEvent) error {
			if _, err := audited.Send(ctx, ports.Email{To: "buyer@example.com", Subject: "paid", Template: "payment_confirmed", IdempotencyKey: ev.OrderID}); err != nil {
				return err
			}
			if fail {
				return errors.New("handler fails after its write")
			}
			return nil
		})
	}
	consume := func(fail bool) {
		t.Helper()
		sub, err := messaging.NewSQLSubscriberGroup(db.DB, log, group, messaging.SQLQueueOptions{BatchSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Close() }()
		ch, err := sub.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		var m *message.Message
		select {
		case m = <-ch:
		case <-time.After(30 * time.Second):
			t.Fatal("the message was not handed out")
		}
		ev, err := messaging.ParseMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		err = handle(fail)(m.Context(), ev)
		if fail {
			if err == nil {
				t.Fatal("the failing handler reported no error")
			}
			m.Nack()
			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		m.Ack()
		testkit.Eventually(t, 10*time.Second, "the acknowledgement committed", func() bool { return acked() == 1 })
	}

	consume(true)
	if n, a := records(), acked(); n != 0 || a != 0 {
		t.Fatalf("after a handler failed past its write: %d email records and %d acknowledgements committed, want neither", n, a)
	}
	consume(false) // the message came back
	if n := records(); n != 1 {
		t.Fatalf("after the handler succeeded: %d email records, want 1 (committed with the acknowledgement)", n)
	}
	if mailer.sent != 2 {
		t.Fatalf("%d sends, want 2 (the failed handling and the redelivery)", mailer.sent)
	}
}
