package bootstrap

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"

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
	t.Parallel()
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
		sub, ch := subscribeGroup(t, db.DB, group, topic)
		defer func() { _ = sub.Close() }()
		m := testkit.Receive(t, ch, 30*time.Second, "a message")
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

// TestHandlingAcknowledgesItsOwnMessage: on the Postgres queue a handling
// run in the consume transaction writes its message's offset with its own
// writes, and the subscriber's acknowledgement of that message sends
// nothing more; the offset still ends at the last message the router
// acknowledged or a handling wrote, whichever is later. In one batch of
// three: the first is handled and acknowledged; the second is handled,
// its offset written with its record, and yet nacked (as when the
// subscriber stops while the router acknowledges it); the subscriber
// stops before the third. The subscriber's acknowledgement of the first
// does not take the offset back from the second (offsets never move
// back): the second's record committed with the batch, so it is handled,
// once, and the next subscriber starts at the third.
func TestHandlingAcknowledgesItsOwnMessage(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	const topic, group = "order.paid.p0", "keyward.notifications"
	ids := publishPaid(t, db, topic, "order-0", "order-1", "order-2")
	acked, offsetOf := queuePositions(t, db, topic, group)
	handled := map[string]int{}
	handle := withConsumeTx(func(ctx context.Context, ev domain.OrderEvent) error {
		handled[ev.OrderID]++
		tx, _ := messaging.ConsumeTxFrom(ctx)
		_, err := tx.Tx().ExecContext(ctx, `INSERT INTO handled_test (order_id) VALUES ($1)`, ev.OrderID)
		return err
	})
	if _, err := db.ExecContext(ctx, `CREATE TABLE handled_test (order_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	next := func(ch <-chan *message.Message) *message.Message {
		return testkit.Receive(t, ch, 30*time.Second, "a message")
	}
	run := func(m *message.Message) {
		t.Helper()
		ev, err := messaging.ParseMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := handle(m.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}

	sub, err := messaging.NewSQLSubscriberGroup(db.DB, log, group, messaging.SQLQueueOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	first := next(ch)
	run(first)
	first.Ack()
	second := next(ch)
	if second.UUID != ids[1] {
		t.Fatalf("second message handed out is %s, want %s", second.UUID, ids[1])
	}
	run(second)
	second.Nack()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := acked(), offsetOf(ids[1]); got != want {
		t.Fatalf("offset after the batch: %d, want %d (the second message's, written with its handling, not moved back to the first's, %d)", got, want, offsetOf(ids[0]))
	}
	var seen []string
	if err := db.SelectContext(ctx, &seen, `SELECT order_id FROM handled_test ORDER BY order_id`); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "order-0" || seen[1] != "order-1" {
		t.Fatalf("committed writes %v, want the first two handlings' (committed with the batch)", seen)
	}

	// A second subscriber gets the third message; acknowledged by its
	// handling, the offset ends at the third. The acknowledgement goes in
	// the statement of its handling's write, and the subscriber's own
	// acknowledgement of the batch sends nothing.
	counter := &postgres.SQLCounter{}
	var mu sync.Mutex
	var acks []string
	counter.Trace(func(tx postgres.TxTrace) {
		mu.Lock()
		defer mu.Unlock()
		for _, q := range tx.Statements {
			if strings.Contains(q, `INSERT INTO "watermill_offsets_`) && strings.Contains(q, "DO UPDATE SET") {
				acks = append(acks, q)
			}
		}
	})
	cdb, err := postgres.OpenCounting(ctx, url, counter)
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	sub, err = messaging.NewSQLSubscriberGroup(cdb.DB, log, group, messaging.SQLQueueOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	if ch, err = sub.Subscribe(ctx, topic); err != nil {
		t.Fatal(err)
	}
	for _, want := range ids[2:] {
		m := next(ch)
		if m.UUID != want {
			t.Fatalf("handed out %s, want %s", m.UUID, want)
		}
		run(m)
		m.Ack()
	}
	testkit.Eventually(t, 10*time.Second, "the offset at the third message", func() bool { return acked() == offsetOf(ids[2]) })
	if handled["order-0"] != 1 || handled["order-1"] != 1 || handled["order-2"] != 1 {
		t.Fatalf("handled %v, want each once", handled)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acks) != 1 {
		t.Fatalf("%d acknowledgements sent for 1 handling, want 1 (with the handling's write): %q", len(acks), acks)
	}
	for _, q := range acks {
		if !strings.Contains(q, "INSERT INTO handled_test") {
			t.Errorf("an acknowledgement sent apart from its handling's write: %s", q)
		}
	}
}

// TestAbortedBatchIsGivenUpAtOnce: on the Postgres queue, a handling that
// fails before its savepoint was sent leaves the consume transaction
// unable to commit. The router gives the batch up at once (an open
// aborted transaction would hold back what every consumer of the cluster
// sees, for the whole ack deadline) and the batch is read again. The
// message that aborted it then takes its savepoint at once: failing
// again, it is retried and dead-lettered like any failure, rather than
// aborting every batch it is in, and the message after it is handled.
// Two such messages in one batch cost three reads: the first is still
// remembered when the second aborts the second read.
func TestAbortedBatchIsGivenUpAtOnce(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	ctx := t.Context()
	log := slog.New(slog.DiscardHandler)
	const topic, group = "order.paid.p0", "keyward.notifications"
	publishPaid(t, db, topic, "poison-1", "poison-2", "fine")
	if _, err := db.ExecContext(ctx, `CREATE TABLE handled_test (order_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	cdb, err := postgres.OpenCounting(ctx, url, &postgres.SQLCounter{})
	if err != nil {
		t.Fatal(err)
	}
	defer cdb.Close()
	sub, err := messaging.NewSQLSubscriberGroup(cdb.DB, log, group, messaging.SQLQueueOptions{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tries := map[string]int{}
	var dead []string
	handle := withConsumeTx(func(ctx context.Context, ev domain.OrderEvent) error {
		mu.Lock()
		tries[ev.OrderID]++
		mu.Unlock()
		tx, _ := messaging.ConsumeTxFrom(ctx)
		if strings.HasPrefix(ev.OrderID, "poison") {
			// A read the server fails, the handling's first statement.
			var n int
			return tx.Tx().GetContext(ctx, &n, `SELECT 1 / (SELECT count(*) FROM handled_test)`)
		}
		_, err := tx.Tx().ExecContext(ctx, `INSERT INTO handled_test (order_id) VALUES ($1)`, ev.OrderID)
		return err
	})
	failures := messaging.Failures{
		Retryable: func(error) bool { return true },
		DeadLetter: func(_ context.Context, l ports.DeadLetter, _ error) error {
			mu.Lock()
			dead = append(dead, l.OrderID)
			mu.Unlock()
			return nil
		},
	}
	policy := messaging.RetryPolicy{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond}
	r, err := messaging.NewRouter(sub, policy, failures, log, messaging.Handler{Name: "notify", Topic: topic, Handle: handle})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.Run(context.Background()) }()
	defer func() { _ = r.Close() }()
	<-r.Running()
	handled := func() (n int) {
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM handled_test WHERE order_id = 'fine'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Well within the ack deadline (2 minutes), which an aborted batch
	// kept open would wait out.
	testkit.Eventually(t, 30*time.Second, "the message after the aborting one handled", func() bool { return handled() == 1 })
	mu.Lock()
	defer mu.Unlock()
	// (A dead letter store keeps one letter a message id.)
	if slices.Sort(dead); !slices.Equal(slices.Compact(dead), []string{"poison-1", "poison-2"}) {
		t.Fatalf("dead letters %v, want the two aborting messages'", dead)
	}
	// The first read: poison-1 aborts it. The second: poison-1 takes its
	// savepoint, is tried 1 + 2 times and dead-lettered, then poison-2
	// aborts it. The third: both take their savepoints, are tried 1 + 2
	// times each, and the batch commits.
	if tries["poison-1"] != 7 || tries["poison-2"] != 4 {
		t.Fatalf("tried poison-1 %d and poison-2 %d times, want 7 and 4 (three reads of the batch)", tries["poison-1"], tries["poison-2"])
	}
}

// subscribeGroup subscribes group to topic of the SQL queue at db, a
// message a batch; the subscriber is closed when the test ends, if it was
// not before.
func subscribeGroup(t *testing.T, db *sql.DB, group, topic string) (*wsql.Subscriber, <-chan *message.Message) {
	t.Helper()
	sub, err := messaging.NewSQLSubscriberGroup(db, slog.New(slog.DiscardHandler), group, messaging.SQLQueueOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return sub, ch
}

// queuePositions returns readers of the SQL queue's topic: of the
// offset group has acknowledged (0 before any), and of the offset of the
// message with a uuid.
func queuePositions(t *testing.T, db *sqlx.DB, topic, group string) (acked func() int64, offsetOf func(uuid string) int64) {
	acked = func() (n int64) {
		t.Helper()
		if err := db.GetContext(t.Context(), &n, `SELECT coalesce(max(offset_acked), 0) FROM "watermill_offsets_`+topic+`" WHERE consumer_group = $1`, group); err != nil {
			t.Fatal(err)
		}
		return n
	}
	offsetOf = func(uuid string) (n int64) {
		t.Helper()
		if err := db.GetContext(t.Context(), &n, `SELECT "offset" FROM "watermill_`+topic+`" WHERE uuid = $1`, uuid); err != nil {
			t.Fatal(err)
		}
		return n
	}
	return acked, offsetOf
}

// publishPaid puts an order.paid event for each order on topic of the
// Postgres queue, in order and in one transaction (so that a consumer
// sees them all at once, in one batch), and returns the messages' ids.
func publishPaid(t *testing.T, db *sqlx.DB, topic string, orderIDs ...string) []string {
	t.Helper()
	pub, err := messaging.NewSQLPublisher(db.DB, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var msgs []*message.Message
	for _, id := range orderIDs {
		msg, err := messaging.NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: id, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		msgs, ids = append(msgs, msg), append(ids, msg.UUID)
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
	return ids
}
