package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/domain"
)

func TestAttachPaymentSetsUpThePayment(t *testing.T) {
	t.Parallel()
	o := unpaidOrder(t)
	if o.Status() != domain.StatusAwaitingPaymentSetup || o.Payment().PaymentID != "" {
		t.Fatalf("a new order is %s with payment %q", o.Status(), o.Payment().PaymentID)
	}
	if err := o.AttachPayment(domain.Payment{Provider: "nowpayments"}, t0); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("payment without id: %v", err)
	}
	p := domain.Payment{Provider: "nowpayments", PaymentID: "5077125051", PayAddress: "rXrp", PayAmount: dec("0.00012345"), PayCurrency: "xrp", PayinExtraID: "tag-1"}
	if err := o.AttachPayment(p, t0); err != nil {
		t.Fatal(err)
	}
	if o.Status() != domain.StatusPendingPayment || o.Payment().Status != domain.PaymentWaiting || o.Payment().PayinExtraID != "tag-1" {
		t.Fatalf("after attach: %s %+v", o.Status(), o.Payment())
	}
	if ev := o.PopEvents(); len(ev) != 1 || ev[0].EventName() != domain.EventPaymentCreated {
		t.Fatalf("events %v, want %s", ev, domain.EventPaymentCreated)
	}
	if last := o.Timeline()[len(o.Timeline())-1]; last.Kind() != domain.EventKindPaymentCreated || last.Status() != domain.StatusPendingPayment {
		t.Fatalf("timeline ends with %s/%s", last.Kind(), last.Status())
	}
	// A second payment never replaces the first.
	p.PaymentID = "other"
	if err := o.AttachPayment(p, t0); !errors.Is(err, domain.ErrInvalidTransition) || o.Payment().PaymentID != "5077125051" {
		t.Fatalf("second attach: %v, payment %s", err, o.Payment().PaymentID)
	}
}

func TestFailPaymentSetup(t *testing.T) {
	t.Parallel()
	o := unpaidOrder(t)
	if err := o.FailPaymentSetup("gateway timeout", false, t0); err != nil {
		t.Fatal(err)
	}
	if o.Status() != domain.StatusAwaitingPaymentSetup || len(o.PopEvents()) != 0 {
		t.Fatalf("a temporary failure moved the order to %s", o.Status())
	}
	if last := o.Timeline()[len(o.Timeline())-1]; last.Kind() != domain.EventKindPaymentSetupFailed || last.Value("reason") != "gateway timeout" {
		t.Fatalf("timeline ends with %s %v", last.Kind(), last.Metadata())
	}
	if err := o.FailPaymentSetup("amount too small", true, t0); err != nil {
		t.Fatal(err)
	}
	if ev := o.PopEvents(); o.Status() != domain.StatusExpired || len(ev) != 1 || ev[0].EventName() != domain.EventOrderExpired {
		t.Fatalf("a refused payment: %s %v", o.Status(), ev)
	}
}

func TestApplyPaymentBeforeSetupIsRefused(t *testing.T) {
	t.Parallel()
	o := unpaidOrder(t)
	u := paidUpdate(domain.PaymentFinished)
	u.PaymentID = ""
	if _, err := o.ApplyPayment(u, t0); !errors.Is(err, domain.ErrInvalidOrder) || o.Status() != domain.StatusAwaitingPaymentSetup {
		t.Fatalf("update for an order without payment: %v %s", err, o.Status())
	}
	n := newOrder(t)
	u = paidUpdate(domain.PaymentStatus{})
	if _, err := n.ApplyPayment(u, t0); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("update without status: %v", err)
	}
}

// TestPaymentUpdatesFromEveryState applies each gateway status to an order
// in each state: only orders awaiting payment move, and never backwards.
func TestPaymentUpdatesFromEveryState(t *testing.T) {
	t.Parallel()
	moves := map[domain.OrderStatus]map[string]domain.OrderStatus{
		domain.StatusPendingPayment: {"finished": domain.StatusPaid, "partially_paid": domain.StatusUnderpaid,
			"failed": domain.StatusExpired, "expired": domain.StatusExpired, "refunded": domain.StatusRefunded},
		domain.StatusUnderpaid: {"finished": domain.StatusPaid, "refunded": domain.StatusRefunded},
		// Money after the order expired is held for a person, never lost.
		domain.StatusExpired: {"finished": domain.StatusNeedsReview},
	}
	statuses := []domain.PaymentStatus{domain.PaymentWaiting, domain.PaymentConfirming, domain.PaymentConfirmed, domain.PaymentSending,
		domain.PaymentPartiallyPaid, domain.PaymentFinished, domain.PaymentFailed, domain.PaymentExpired, domain.PaymentRefunded}
	for _, from := range domain.OrderStatuses {
		if from == domain.StatusAwaitingPaymentSetup {
			continue // no payment to update: TestApplyPaymentBeforeSetupIsRefused
		}
		for _, st := range statuses {
			t.Run(from.String()+"/"+st.String(), func(t *testing.T) {
				t.Parallel()
				o := inState(t, from)
				if _, err := o.ApplyPayment(paidUpdate(st), t0); err != nil {
					t.Fatal(err)
				}
				want, ok := moves[from][st.String()]
				if !ok {
					want = from
				}
				if o.Status() != want {
					t.Fatalf("%s + %s → %s, want %s", from, st, o.Status(), want)
				}
			})
		}
	}
}

func repeatDeposit(status domain.PaymentStatus) domain.PaymentUpdate {
	u := paidUpdate(status)
	u.PaymentID, u.ParentPaymentID = "pay-2", "pay-1"
	return u
}

// TestRepeatDepositNeverPaysTwice: money sent again to a paid order's
// address is recorded on that order and changes nothing else; on an order
// still awaiting payment it holds the order for review instead of paying it.
func TestRepeatDepositNeverPaysTwice(t *testing.T) {
	t.Parallel()
	for _, from := range []domain.OrderStatus{domain.StatusPaid, domain.StatusFulfilling, domain.StatusDelivered, domain.StatusUnderpaid, domain.StatusExpired} {
		t.Run(from.String(), func(t *testing.T) {
			t.Parallel()
			o := inState(t, from)
			before := len(o.Timeline())
			changed, err := o.ApplyPayment(repeatDeposit(domain.PaymentFinished), t0)
			if err != nil || !changed {
				t.Fatalf("changed=%v err=%v", changed, err)
			}
			if o.Status() != from || len(o.PopEvents()) != 0 {
				t.Fatalf("a repeat deposit moved the order to %s", o.Status())
			}
			tl := o.Timeline()
			if len(tl) != before+1 || tl[before].Kind() != domain.EventKindRepeatDeposit || tl[before].Value("payment_id") != "pay-2" {
				t.Fatalf("timeline %v", tl[before:])
			}
			if o.Payment().PaymentID != "pay-1" {
				t.Fatalf("the order's payment became %s", o.Payment().PaymentID)
			}
		})
	}
	t.Run("pending_payment", func(t *testing.T) {
		t.Parallel()
		o := newOrder(t)
		if _, err := o.ApplyPayment(repeatDeposit(domain.PaymentFinished), t0); err != nil {
			t.Fatal(err)
		}
		if ev := o.PopEvents(); o.Status() != domain.StatusUnderpaid || len(ev) != 1 || ev[0].EventName() != domain.EventPaymentHeld {
			t.Fatalf("a repeat deposit on a pending order: %s %v", o.Status(), ev)
		}
	})
	t.Run("foreign parent", func(t *testing.T) {
		t.Parallel()
		o := inState(t, domain.StatusPaid)
		u := repeatDeposit(domain.PaymentFinished)
		u.ParentPaymentID = "pay-other"
		if _, err := o.ApplyPayment(u, t0); !errors.Is(err, domain.ErrInvalidOrder) {
			t.Fatalf("repeat deposit of another payment: %v", err)
		}
		u = repeatDeposit(domain.PaymentFinished)
		u.PaymentID = "pay-1"
		if _, err := o.ApplyPayment(u, t0); !errors.Is(err, domain.ErrInvalidOrder) {
			t.Fatalf("repeat deposit with the parent's id: %v", err)
		}
	})
}

func TestLatePaymentHoldsAnExpiredOrderOnce(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusExpired)
	o.PopEvents()
	changed, err := o.ApplyPayment(paidUpdate(domain.PaymentFinished), t0)
	if err != nil || !changed {
		t.Fatalf("late payment: changed=%t err=%v", changed, err)
	}
	if o.Status() != domain.StatusNeedsReview || !strings.HasPrefix(o.ReviewReason(), "late_payment") {
		t.Fatalf("status %s, reason %q; want needs_review for a late payment", o.Status(), o.ReviewReason())
	}
	evs := o.PopEvents()
	if len(evs) != 1 || evs[0].EventName() != domain.EventOrderNeedsReview {
		t.Fatalf("events %v, want one %s", evs, domain.EventOrderNeedsReview)
	}
	if changed, _ := o.ApplyPayment(paidUpdate(domain.PaymentFinished), t0); changed || len(o.PopEvents()) != 0 {
		t.Fatal("a repeated late payment changed the order again")
	}
}
