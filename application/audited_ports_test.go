package application_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// flakyAudit refuses its first appends of one action, then takes them.
type flakyAudit struct {
	ports.AuditLog
	action string
	fail   int
}

func (a *flakyAudit) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	if action == a.action && a.fail > 0 {
		a.fail--
		return domain.AuditRecord{}, errors.New("audit log unavailable")
	}
	return a.AuditLog.Append(ctx, actor, action, subject, details)
}

// TestEmailAuditFailureSendsNoSecondEmail: an audit log that fails once
// after the delivery email went out neither fails the delivery (which would
// send a second link) nor loses the record.
func TestEmailAuditFailureSendsNoSecondEmail(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	flaky := &flakyAudit{AuditLog: w.audit, action: application.AuditEmailSent, fail: 1}
	deliver := w.app(func(d *application.Deps, _ *application.Settings) { d.Audit = flaky }).Commands.DeliverOrder
	if err := deliver.Handle(t.Context(), o.ID()); err != nil {
		t.Fatalf("delivery failed because its audit record failed once: %v", err)
	}
	if n := len(w.mail.sent); n != 1 {
		t.Fatalf("%d emails, want 1", n)
	}
	recs, _ := w.audit.List(t.Context(), 0, 1000)
	sent := 0
	for _, r := range recs {
		if r.Action == application.AuditEmailSent && r.Details["template"] == "keys_ready" {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d email.sent records, want 1", sent)
	}
}
