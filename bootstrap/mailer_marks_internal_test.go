package bootstrap

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// markingMailer keeps marks as the SMTP mailer's sent-mail log does: a
// message sent again under its key is a duplicate, unaudited until its
// record marked it.
type markingMailer struct {
	mu      sync.Mutex
	sent    map[string]bool
	audited map[string]bool
}

func (m *markingMailer) Send(_ context.Context, e ports.Email) (ports.Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent[e.IdempotencyKey] {
		return ports.Receipt{Duplicate: true, Unaudited: !m.audited[e.IdempotencyKey]}, nil
	}
	m.sent[e.IdempotencyKey] = true
	return ports.Receipt{ProviderID: "id-" + e.IdempotencyKey}, nil
}

func (m *markingMailer) MarkAudited(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := !m.audited[key]
	m.audited[key] = true
	return first, nil
}

type plainMAC struct{}

func (plainMAC) Sign(context.Context, []byte) (string, error)         { return "00", nil }
func (plainMAC) Verify(context.Context, []byte, string) (bool, error) { return true, nil }

// TestDecoratedMailerKeepsItsMarks: the mailer every process sends with
// (metrics, breaker, audit record) reaches the marks of a mailer that
// keeps them. Without it the record's unit of work never marks, and every
// duplicate of a sent email reads as unaudited and is recorded again.
func TestDecoratedMailerKeepsItsMarks(t *testing.T) {
	t.Parallel()
	inner := &markingMailer{sent: map[string]bool{}, audited: map[string]bool{}}
	log := slog.New(slog.DiscardHandler)
	audit := memory.NewAuditLog(testkit.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), plainMAC{})
	ml := decorateMailer(inner, metrics.New(), newBreakers(Config{}, nil, log), memory.Transactor{}, audit, log)
	email := ports.Email{To: "buyer@example.com", Template: "order_delivered", IdempotencyKey: "delivered-1"}
	for range 3 { // the first send, then two redeliveries of its message
		if _, err := ml.Send(t.Context(), email); err != nil {
			t.Fatal(err)
		}
	}
	if !inner.audited["delivered-1"] {
		t.Error("the email's record did not mark it audited through the decorators")
	}
	records, err := audit.List(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range records {
		if r.Action == application.AuditEmailSent {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d email.sent records for one email sent and redelivered twice, want 1", n)
	}
}
