package application_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// TestClaimOpensAfterTheRevealWithinTheWindow: a key can be claimed once
// revealed, through any link of the order (even an expired one), within
// 14 days of its first reveal, once at a time; the claim is audited.
func TestClaimOpensAfterTheRevealWithinTheWindow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	app := w.app()
	item := o.Items()[0].ID()
	cmd := application.OpenClaimCommand{Token: token, ItemID: item, Reason: "already_used", Message: "Steam says the key was redeemed"}
	if _, err := app.Commands.OpenClaim.Handle(t.Context(), cmd); !errors.Is(err, domain.ErrClaimWindowClosed) {
		t.Fatalf("claim before any reveal: %v, want ErrClaimWindowClosed", err)
	}
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(13 * 24 * time.Hour) // the link expired long ago
	for _, bad := range []struct {
		cmd  application.OpenClaimCommand
		want error
	}{
		{application.OpenClaimCommand{Token: "unknown", ItemID: item, Reason: "other"}, domain.ErrNotFound},
		{application.OpenClaimCommand{Token: token, ItemID: "another-item", Reason: "other"}, domain.ErrItemNotFound},
		{application.OpenClaimCommand{Token: token, ItemID: item, Reason: "angry"}, domain.ErrInvalidClaim},
	} {
		if _, err := app.Commands.OpenClaim.Handle(t.Context(), bad.cmd); !errors.Is(err, bad.want) {
			t.Errorf("%+v: %v, want %v", bad.cmd, err, bad.want)
		}
	}
	c, err := app.Commands.OpenClaim.Handle(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status() != domain.ClaimOpen || c.ItemID() != item || c.Reason() != domain.ClaimAlreadyUsed {
		t.Fatalf("claim %+v", c.Snapshot())
	}
	if _, err := app.Commands.OpenClaim.Handle(t.Context(), cmd); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a second open claim: %v, want ErrConflict", err)
	}
	open := domain.ClaimOpen
	list, next, err := app.Queries.Claims.Handle(t.Context(), ports.ClaimQuery{Status: &open, OrderID: o.ID()})
	if err != nil || len(list) != 1 || list[0].ID() != c.ID() || next != "" {
		t.Fatalf("open claims of the order: %v, next %q, %v", list, next, err)
	}
	recs, _ := w.audit.List(t.Context(), 0, 1000)
	found := false
	for _, r := range recs {
		if r.Action == application.AuditClaimOpened && r.Subject == c.ID() && r.Details["item_id"] == item {
			found = true
		}
	}
	if !found {
		t.Fatal("the claim is not audited")
	}

	w.clock.Advance(24 * time.Hour) // 14 days after the first reveal
	if _, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "redeemed on your account", "admin:support"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.OpenClaim.Handle(t.Context(), cmd); !errors.Is(err, domain.ErrClaimWindowClosed) {
		t.Fatalf("a claim 14 days after the first reveal: %v, want ErrClaimWindowClosed", err)
	}
}

// TestRejectClaimEmailsTheCustomerOnce: a rejection is mailed with
// support's message and recorded once; a second rejection is refused.
func TestRejectClaimEmailsTheCustomerOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	app := w.app()
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); err != nil {
		t.Fatal(err)
	}
	c, err := app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "not_working"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "   ", "admin:support"); !errors.Is(err, domain.ErrInvalidClaim) {
		t.Fatalf("a rejection without words: %v", err)
	}
	before := sentCount(w)
	got, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "The key was activated on 12 May.\nWe cannot replace it.", "admin:support")
	if err != nil || got.Status() != domain.ClaimRejected {
		t.Fatalf("reject: %v", err)
	}
	w.mail.mu.Lock()
	m := w.mail.sent[len(w.mail.sent)-1]
	w.mail.mu.Unlock()
	if sentCount(w) != before+1 || m.Template != "claim_rejected" || m.To != o.Email().String() || !strings.Contains(m.Text, "activated on 12 May.\nWe cannot") {
		t.Fatalf("rejection email %+v", m)
	}
	if _, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "again", "admin:support"); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("a second rejection: %v", err)
	}
	if sentCount(w) != before+1 {
		t.Fatal("a refused rejection sent an email")
	}
}
