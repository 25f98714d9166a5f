package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// TestMailerErrorsNameNoRecipient: an error a mail service returns, which
// often quotes the address, comes back from the audited mailer without
// it, as it is or as quoted, and still says what kind of failure it was;
// one that does not name it comes back as it is.
func TestMailerErrorsNameNoRecipient(t *testing.T) {
	t.Parallel()
	to := "buyer+\x1bx@example.com"
	for _, base := range []error{ports.ErrMailRejected, ports.ErrMailUnavailable} {
		sent := fmt.Errorf("%w: 550 5.1.1 <%s>: no such user (to %q, %s)", base, to, to, strings.ToUpper(to))
		m := application.AuditMailer(failingMailer{sent}, nil, nil, nil)
		_, err := m.Send(t.Context(), ports.Email{To: to, Subject: "s", Template: "t"})
		if !errors.Is(err, base) {
			t.Fatalf("%v: lost its kind (%v)", err, base)
		}
		if text := err.Error(); strings.Contains(strings.ToLower(text), "buyer") {
			t.Fatalf("the error names the recipient: %s", text)
		}
	}
	other := fmt.Errorf("%w: connection refused", ports.ErrMailUnavailable)
	m := application.AuditMailer(failingMailer{other}, nil, nil, nil)
	if _, err := m.Send(t.Context(), ports.Email{To: "a@example.com"}); err != other {
		t.Fatalf("an error naming no recipient came back as %v, want it as it is", err)
	}
}
