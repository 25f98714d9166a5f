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
	o := w.fulfilledOrder(t)
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

// TestPortsAuditedWhereBoundAreNotAuditedAgain: a process binds the
// audited ports where it provides them and NewApp audits those it gets as
// they come; given ports already audited, each status change, data key
// and email still has one record, not two.
func TestPortsAuditedWhereBoundAreNotAuditedAgain(t *testing.T) {
	t.Parallel()
	count := func(w *world) map[string]int {
		recs, err := w.audit.List(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, r := range recs {
			n[r.Action]++
		}
		return n
	}
	deliver := func(w *world, change ...func(*application.Deps, *application.Settings)) map[string]int {
		o := w.paidOrder(t, 1)
		app := w.app(change...)
		if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
		if err := app.Commands.DeliverOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
		return count(w)
	}
	asTheyCome := deliver(newWorld(t))
	bound := deliver(newWorld(t), func(d *application.Deps, _ *application.Settings) {
		d.Orders = application.AuditOrders(d.Orders, d.Tx, d.Audit)
		d.DataKeys = application.AuditDataKeys(d.DataKeys, d.Tx, d.Audit)
		d.Mailer = application.AuditMailer(d.Mailer, d.Tx, d.Audit, d.Log)
	})
	for _, action := range []string{application.AuditOrderTransition, application.AuditDataKeyCreated, application.AuditEmailSent} {
		if asTheyCome[action] == 0 || bound[action] != asTheyCome[action] {
			t.Errorf("%s: %d records with the ports audited where bound, %d as they come; want the same, more than 0", action, bound[action], asTheyCome[action])
		}
	}
}
