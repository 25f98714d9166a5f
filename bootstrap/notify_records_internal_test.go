package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// loggedMailer sends nothing and keeps the sent-mail log on Postgres as
// the SMTP mailer does: asked before each send, written at once on a
// connection of its own after it, audited marks in the record's unit of
// work (ports.AuditMarkingMailer).
type loggedMailer struct {
	log  *postgres.SentMail
	mu   sync.Mutex
	sent map[string]int
}

func (m *loggedMailer) Send(ctx context.Context, e ports.Email) (ports.Receipt, error) {
	sent, audited, err := m.log.WasSent(ctx, e.IdempotencyKey)
	if err != nil || sent {
		return ports.Receipt{Duplicate: sent, Unaudited: sent && !audited}, err
	}
	m.mu.Lock()
	m.sent[e.IdempotencyKey]++
	m.mu.Unlock()
	return ports.Receipt{ProviderID: "p-" + e.IdempotencyKey}, m.log.RecordSent(ctx, e.IdempotencyKey, time.Now())
}

func (m *loggedMailer) MarkAudited(ctx context.Context, key string) (bool, error) {
	return m.log.MarkAudited(ctx, key, time.Now())
}

// notificationBatch is two order.paid messages on the Postgres queue and
// a notification handler, run in the consume transaction, emailing each.
type notificationBatch struct {
	db     *sqlx.DB
	mailer *loggedMailer
	handle func(context.Context, domain.OrderEvent) error
	log    *slog.Logger
}

const notificationTestTopic = "order.paid.p0"

func newNotificationBatch(t *testing.T, wrapAudit func(ports.AuditLog) ports.AuditLog) *notificationBatch {
	t.Helper()
	_, db := pgtest.NewDatabase(t)
	log := slog.New(slog.DiscardHandler)
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	audit := postgres.NewAuditLog(db, testkit.NewRunningClock(), application.NewAuditKey(kr, postgres.NewDataKeys(db)), log)
	if err := audit.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	mailer := &loggedMailer{log: postgres.NewSentMail(db), sent: map[string]int{}}
	audited := application.AuditMailer(mailer, postgres.NewTransactor(db), wrapAudit(audit), log)
	// Both in one transaction, so that one batch reads both: the queue
	// hands out only what is older than every transaction still running
	// on the server, and another test's could fall between two.
	publishPaid(t, db, notificationTestTopic, "order-1", "order-2")
	return &notificationBatch{db: db, mailer: mailer, log: log, handle: withConsumeTx(func(ctx context.Context, ev domain.OrderEvent) error {
		_, err := audited.Send(ctx, ports.Email{To: "buyer@example.com", Subject: "paid", Template: "payment_confirmed", IdempotencyKey: ev.OrderID})
		return err
	})}
}

// consume handles messages in one batch of the notifications' consumer
// group until each order's message was acknowledged once (or stop says
// so after handling one), nacking those whose handling failed.
func (b *notificationBatch) consume(t *testing.T, stop func(m *message.Message, handled int) bool) {
	t.Helper()
	sub, err := messaging.NewSQLSubscriberGroup(b.db.DB, b.log, notificationConsumerGroup, messaging.SQLQueueOptions{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Close() }()
	ch, err := sub.Subscribe(t.Context(), notificationTestTopic)
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	for handled := 1; len(acked) < 2; handled++ {
		m := testkit.Receive(t, ch, 30*time.Second, fmt.Sprintf("a message after %d handled", handled-1))
		ev, err := messaging.ParseMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.handle(m.Context(), ev); err != nil {
			t.Logf("handling %s (nacked): %v", ev.OrderID, err)
			m.Nack()
			continue
		}
		if stop != nil && stop(m, handled) {
			m.Ack()
			return
		}
		m.Ack()
		acked[ev.OrderID] = true
	}
}

// records counts the email.sent records of each idempotency key.
func (b *notificationBatch) records(t *testing.T) map[string]int {
	t.Helper()
	var keys []string
	if err := b.db.SelectContext(t.Context(), &keys, `SELECT details->>'idempotency_key' FROM audit_pending WHERE action = $1
		UNION ALL SELECT details->>'idempotency_key' FROM audit_log WHERE action = $1`, application.AuditEmailSent); err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, k := range keys {
		n[k]++
	}
	return n
}

// TestNotificationRecordsSurviveACrashBeforeTheAck: a process killed
// after sending both emails of a batch, before the batch's acknowledgement
// committed, loses their records with it while the sent-mail log keeps
// them sent; the redelivery finds both duplicates, not audited, and
// records each then: one record per email.
func TestNotificationRecordsSurviveACrashBeforeTheAck(t *testing.T) {
	t.Parallel()
	b := newNotificationBatch(t, func(a ports.AuditLog) ports.AuditLog { return a })
	b.consume(t, func(m *message.Message, handled int) bool {
		if handled < 2 {
			return false
		}
		// kill -9: the server drops the consume transaction.
		tx, _ := messaging.ConsumeTxFrom(m.Context())
		var pid int
		if err := tx.Tx().GetContext(t.Context(), &pid, `SELECT pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.ExecContext(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		return true
	})
	if got := b.records(t); len(got) != 0 {
		t.Fatalf("records %v survived the dropped consume transaction", got)
	}
	b.consume(t, nil)
	for _, key := range []string{"order-1", "order-2"} {
		if b.mailer.sent[key] != 1 || b.records(t)[key] != 1 {
			t.Errorf("%s: %d emails, %d email.sent records; want 1 and 1", key, b.mailer.sent[key], b.records(t)[key])
		}
	}
}

// sqlFailingAudit fails order-2's first record with an SQL error (a
// statement or lock timeout, say) in the consume transaction it joins.
type sqlFailingAudit struct {
	ports.AuditLog
	failed atomic.Bool
}

func (a *sqlFailingAudit) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	if tx, ok := messaging.ConsumeTxFrom(ctx); ok && details["idempotency_key"] == "order-2" && a.failed.CompareAndSwap(false, true) {
		_, err := tx.Tx().ExecContext(ctx, `SELECT 1/0`)
		return domain.AuditRecord{}, errors.Join(errors.New("injected"), err)
	}
	return a.AuditLog.Append(ctx, actor, action, subject, details)
}

// TestNotificationFailedRecordKeepsTheBatch: one record that fails inside
// the consume transaction (aborting it) neither loses the records of the
// other messages of the batch nor is written twice: it is written in a
// transaction of its own, and its message's handling is tried again.
func TestNotificationFailedRecordKeepsTheBatch(t *testing.T) {
	t.Parallel()
	audit := &sqlFailingAudit{}
	b := newNotificationBatch(t, func(a ports.AuditLog) ports.AuditLog { audit.AuditLog = a; return audit })
	b.consume(t, nil)
	if !audit.failed.Load() {
		t.Fatal("no record failed")
	}
	for _, key := range []string{"order-1", "order-2"} {
		if b.mailer.sent[key] != 1 || b.records(t)[key] != 1 {
			t.Errorf("%s: %d emails, %d email.sent records; want 1 and 1", key, b.mailer.sent[key], b.records(t)[key])
		}
	}
}

// TestNotificationBatchCapped: the notifications consumer reads at most
// maxNotificationBatch messages a batch (each keeps a savepoint until the
// batch commits), whatever KEYWARD_QUEUE_BATCH_SIZE says; a smaller batch
// is kept.
func TestNotificationBatchCapped(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ set, want int }{{0, 32}, {1, 1}, {10, 10}, {32, 32}, {33, 32}, {1000, 32}} {
		if got := notificationQueue(messaging.SQLQueueOptions{BatchSize: tt.set}).BatchSize; got != tt.want {
			t.Errorf("KEYWARD_QUEUE_BATCH_SIZE=%d: notifications batch %d, want %d", tt.set, got, tt.want)
		}
	}
}
