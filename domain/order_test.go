package domain_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestNewOrderValidates(t *testing.T) {
	t.Parallel()
	email, _ := domain.ParseEmail("a@example.com")
	cases := []struct {
		name  string
		lines func(t *testing.T) []domain.NewItem
		want  error
	}{
		{"no items", func(t *testing.T) []domain.NewItem { return nil }, domain.ErrInvalidOrder},
		{"quantity 0", func(t *testing.T) []domain.NewItem {
			return []domain.NewItem{{ID: "i", Product: product(t, "a", "1.00", 99), Quantity: 0}}
		}, domain.ErrInvalidOrder},
		{"quantity 11", func(t *testing.T) []domain.NewItem {
			return []domain.NewItem{{ID: "i", Product: product(t, "a", "1.00", 99), Quantity: 11}}
		}, domain.ErrInvalidOrder},
		{"duplicate sku", func(t *testing.T) []domain.NewItem {
			p := product(t, "a", "1.00", 99)
			return []domain.NewItem{{ID: "i", Product: p, Quantity: 1}, {ID: "j", Product: p, Quantity: 1}}
		}, domain.ErrInvalidOrder},
		{"out of stock", func(t *testing.T) []domain.NewItem {
			return []domain.NewItem{{ID: "i", Product: product(t, "a", "1.00", 1), Quantity: 2}}
		}, domain.ErrOutOfStock},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := domain.NewOrder("o", email, domain.HashToken("t"), c.lines(t), t0)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestNewOrderPricesAndRecords(t *testing.T) {
	t.Parallel()
	o := newOrder(t)
	if got := o.Total(); !got.Equal(domain.MustMoney("44.98", "EUR")) {
		t.Fatalf("total = %s %s", got, got.Currency())
	}
	if o.Status() != domain.StatusPendingPayment || len(o.Timeline()) != 2 {
		t.Fatalf("status %s, timeline %v", o.Status(), o.Timeline())
	}
	if !o.CheckAccessToken("secret") || o.CheckAccessToken("other") {
		t.Fatal("access token check is wrong")
	}
}

func TestApplyPayment(t *testing.T) {
	t.Parallel()
	mod := func(f func(*domain.PaymentUpdate)) domain.PaymentUpdate {
		u := paidUpdate(domain.PaymentFinished)
		f(&u)
		return u
	}
	cases := []struct {
		name   string
		update domain.PaymentUpdate
		want   domain.OrderStatus
		event  string
	}{
		{"finished with exact amount", paidUpdate(domain.PaymentFinished), domain.StatusPaid, domain.EventOrderPaid},
		{"finished, overpaid", mod(func(u *domain.PaymentUpdate) { u.ActuallyPaid = dec("50") }), domain.StatusPaid, domain.EventOrderPaid},
		{"finished, paid too little", mod(func(u *domain.PaymentUpdate) { u.ActuallyPaid = dec("48.8") }), domain.StatusUnderpaid, domain.EventPaymentHeld},
		{"finished, other price", mod(func(u *domain.PaymentUpdate) { u.PriceAmount = dec("1.00") }), domain.StatusUnderpaid, domain.EventPaymentHeld},
		{"finished, other price currency", mod(func(u *domain.PaymentUpdate) { u.PriceCurrency = "USD" }), domain.StatusUnderpaid, domain.EventPaymentHeld},
		{"finished, other coin", mod(func(u *domain.PaymentUpdate) { u.PayCurrency = "btc" }), domain.StatusUnderpaid, domain.EventPaymentHeld},
		{"partially paid", paidUpdate(domain.PaymentPartiallyPaid), domain.StatusUnderpaid, domain.EventPaymentHeld},
		{"confirming", paidUpdate(domain.PaymentConfirming), domain.StatusPendingPayment, ""},
		{"expired", paidUpdate(domain.PaymentExpired), domain.StatusExpired, domain.EventOrderExpired},
		{"failed", paidUpdate(domain.PaymentFailed), domain.StatusExpired, domain.EventOrderExpired},
		{"refunded", paidUpdate(domain.PaymentRefunded), domain.StatusRefunded, domain.EventOrderRefunded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := newOrder(t)
			changed, err := o.ApplyPayment(c.update, t0)
			if err != nil || !changed {
				t.Fatalf("changed=%v err=%v", changed, err)
			}
			if o.Status() != c.want {
				t.Fatalf("status = %s, want %s", o.Status(), c.want)
			}
			ev := o.PopEvents()
			if c.event == "" && len(ev) != 0 || c.event != "" && (len(ev) != 1 || ev[0].EventName() != c.event) {
				t.Fatalf("events = %v, want %q", ev, c.event)
			}
		})
	}
}

func TestApplyPaymentIsForwardOnly(t *testing.T) {
	t.Parallel()
	o := newOrder(t)
	if _, err := o.ApplyPayment(paidUpdate(domain.PaymentFinished), t0); err != nil {
		t.Fatal(err)
	}
	o.PopEvents()
	for _, st := range []domain.PaymentStatus{domain.PaymentFinished, domain.PaymentConfirming, domain.PaymentPartiallyPaid, domain.PaymentWaiting} {
		changed, err := o.ApplyPayment(paidUpdate(st), t0)
		if err != nil || changed || o.Status() != domain.StatusPaid || len(o.PopEvents()) != 0 {
			t.Fatalf("%s after finished: changed=%v err=%v status=%s", st, changed, err, o.Status())
		}
	}
	// An older status arriving late never moves an underpaid order back.
	u := newOrder(t)
	if _, err := u.ApplyPayment(paidUpdate(domain.PaymentPartiallyPaid), t0); err != nil {
		t.Fatal(err)
	}
	if changed, _ := u.ApplyPayment(paidUpdate(domain.PaymentConfirming), t0); changed || u.Status() != domain.StatusUnderpaid {
		t.Fatalf("late confirming moved underpaid order: %s", u.Status())
	}
	// The rest arriving later pays it.
	if _, err := u.ApplyPayment(paidUpdate(domain.PaymentFinished), t0); err != nil || u.Status() != domain.StatusPaid {
		t.Fatalf("finished after partial: %s %v", u.Status(), err)
	}
}

func TestApplyPaymentRefusesForeignPayment(t *testing.T) {
	t.Parallel()
	o := newOrder(t)
	u := paidUpdate(domain.PaymentFinished)
	u.PaymentID = "someone-else"
	if _, err := o.ApplyPayment(u, t0); !errors.Is(err, domain.ErrInvalidOrder) || o.Status() != domain.StatusPendingPayment {
		t.Fatalf("err=%v status=%s", err, o.Status())
	}
}

// TestOrderOperationsByState tries every state-changing operation from every
// state and checks which succeed.
func TestOrderOperationsByState(t *testing.T) {
	t.Parallel()
	ops := map[string]struct {
		run  func(o *domain.Order) error
		from []domain.OrderStatus
	}{
		"Expire": {func(o *domain.Order) error { return o.Expire(t0) }, []domain.OrderStatus{domain.StatusAwaitingPaymentSetup, domain.StatusPendingPayment, domain.StatusUnderpaid}},
		"Attach": {func(o *domain.Order) error {
			return o.AttachPayment(domain.Payment{Provider: "nowpayments", PaymentID: "pay-9"}, t0)
		}, []domain.OrderStatus{domain.StatusAwaitingPaymentSetup}},
		"SetupFailed":  {func(o *domain.Order) error { return o.FailPaymentSetup("down", false, t0) }, []domain.OrderStatus{domain.StatusAwaitingPaymentSetup}},
		"SetupRefused": {func(o *domain.Order) error { return o.FailPaymentSetup("refused", true, t0) }, []domain.OrderStatus{domain.StatusAwaitingPaymentSetup}},
		"Fail":         {func(o *domain.Order) error { return o.Fail("x", t0) }, []domain.OrderStatus{domain.StatusPaid, domain.StatusFulfilling}},
		"Revoke":       {func(o *domain.Order) error { return o.Revoke("x", t0) }, []domain.OrderStatus{domain.StatusFulfilled, domain.StatusDelivered, domain.StatusFailed, domain.StatusNeedsReview}},
		"Hold":         {func(o *domain.Order) error { return o.HoldForReview("why", t0) }, []domain.OrderStatus{domain.StatusPaid, domain.StatusFulfilling, domain.StatusNeedsReview}},
		"Deliver":      {func(o *domain.Order) error { return o.MarkDelivered("l", t0) }, []domain.OrderStatus{domain.StatusFulfilled}},
		"Complete":     {func(o *domain.Order) error { return o.CompleteFulfilment(t0) }, nil}, // items are never all sealed in these fixtures except fulfilled+
		"Retry":        {func(o *domain.Order) error { return o.RetryFulfilment(t0) }, []domain.OrderStatus{domain.StatusPaid, domain.StatusFulfilling, domain.StatusFailed, domain.StatusNeedsReview}},
		"Resent":       {func(o *domain.Order) error { return o.RecordLinkResent("l", t0) }, []domain.OrderStatus{domain.StatusDelivered}},
	}
	for name, op := range ops {
		for _, from := range domain.OrderStatuses {
			t.Run(name+"/"+from.String(), func(t *testing.T) {
				t.Parallel()
				o := inState(t, from)
				err := op.run(o)
				ok := false
				for _, f := range op.from {
					ok = ok || f == from
				}
				if ok && err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if !ok {
					if !errors.Is(err, domain.ErrInvalidTransition) {
						t.Fatalf("want ErrInvalidTransition, got %v", err)
					}
					if o.Status() != from {
						t.Fatalf("refused op changed status to %s", o.Status())
					}
				}
			})
		}
	}
}

func TestItemFulfilmentFlow(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilling)
	it := o.Items()[0]
	if err := o.SealItem(it.ID(), nil, t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("seal before purchase: %v", err)
	}
	if err := o.RecordItemPurchase(it.ID(), "so", t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("record before begin: %v", err)
	}
	for i := 0; i < 2; i++ { // beginning twice is a resume, not an error
		if err := o.BeginItemPurchase(it.ID(), t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.RecordItemPurchase(it.ID(), "so-1", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordItemPurchase(it.ID(), "so-1", t0); err != nil {
		t.Fatalf("recording the same purchase twice: %v", err)
	}
	if err := o.RecordItemPurchase(it.ID(), "so-2", t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("a second, different purchase: %v", err)
	}
	if err := o.SealItem(it.ID(), []domain.SealedKey{{Slot: 0}}, t0); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("sealing 1 of 2 keys: %v", err)
	}
	if err := o.CompleteFulfilment(t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("complete with unsealed items: %v", err)
	}
	if _, err := o.Item("nope"); !errors.Is(err, domain.ErrItemNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
}

func TestFailItem(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilling)
	it := o.Items()[0]
	if err := o.BeginItemPurchase(it.ID(), t0); err != nil {
		t.Fatal(err)
	}
	if err := o.FailItem(it.ID(), "timeout", true, t0); err != nil || o.Status() != domain.StatusFulfilling {
		t.Fatalf("retryable failure: %v, %s", err, o.Status())
	}
	if err := o.BeginItemPurchase(it.ID(), t0); err != nil {
		t.Fatalf("retry after retryable failure: %v", err)
	}
	if err := o.FailItem(it.ID(), "ProductUnavailable", false, t0); err != nil || o.Status() != domain.StatusFailed {
		t.Fatalf("permanent failure: %v, %s", err, o.Status())
	}
	if ev := o.PopEvents(); len(ev) != 1 || ev[0].EventName() != domain.EventOrderFailed {
		t.Fatalf("events %v", ev)
	}
	if err := o.RetryFulfilment(t0); err != nil || o.Status() != domain.StatusFulfilling {
		t.Fatalf("operator retry: %v %s", err, o.Status())
	}
	got, _ := o.Item(it.ID())
	if got.Status() != domain.ItemPending || got.Failure() != nil {
		t.Fatalf("retried item is %s", got.Status())
	}
}

func TestRevokeForgetsSealedKeys(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	if err := o.Revoke("chargeback", t0); err != nil {
		t.Fatal(err)
	}
	for _, it := range o.Items() {
		if len(it.Keys()) != 0 {
			t.Fatalf("item %s keeps %d keys", it.ID(), len(it.Keys()))
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	o.MarkSaved()
	back, err := domain.UnmarshalOrder(o.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if back.Status() != o.Status() || !back.Total().Equal(o.Total()) || len(back.Timeline()) != len(o.Timeline()) || len(back.NewTimeline()) != 0 {
		t.Fatalf("round trip lost data")
	}
	if _, err := domain.UnmarshalOrder(domain.OrderSnapshot{ID: "x"}); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("corrupt snapshot accepted: %v", err)
	}
}

func TestUnderpaidOrderStaysHeldWhenPaymentExpires(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusUnderpaid)
	changed, err := o.ApplyPayment(paidUpdate(domain.PaymentExpired), t0)
	if err != nil || !changed || o.Status() != domain.StatusUnderpaid {
		t.Fatalf("expired after partial payment: %v %v %s", changed, err, o.Status())
	}
}

// TestSnapshotSharesNothing: a snapshot is a value. Changing the order
// after taking it, or changing it after unmarshalling from it, reaches
// neither side, so storage may keep snapshots as they are.
func TestSnapshotSharesNothing(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilling)
	if err := o.BeginItemPurchase("item-1", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.FailItem("item-1", "timeout", true, t0); err != nil {
		t.Fatal(err)
	}
	s := o.Snapshot()
	timeline := len(s.Timeline)

	// The order changes after the snapshot.
	if err := o.RetryFulfilment(t0); err != nil {
		t.Fatal(err)
	}
	if s.Items[0].Status != domain.ItemFailed || s.Items[0].Failure == nil || len(s.Timeline) != timeline {
		t.Fatalf("the snapshot followed the order: item %s, failure %v, %d entries", s.Items[0].Status, s.Items[0].Failure, len(s.Timeline))
	}

	// The snapshot changes after an unmarshal.
	back, err := domain.UnmarshalOrder(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Items[0].Failure.Reason = "changed"
	s.Items[0].Status = domain.ItemSealed
	s.Items[1].Keys = append(s.Items[1].Keys, domain.SealedKey{BlobRef: "x"})
	s.Timeline[0] = s.Timeline[1]
	it, _ := back.Item("item-1")
	if it.Failure().Reason != "timeout" || it.Status() != domain.ItemFailed || back.Timeline()[0].Kind() != domain.EventKindOrderPlaced {
		t.Fatalf("the order followed its snapshot: %v %s %s", it.Failure(), it.Status(), back.Timeline()[0].Kind())
	}
	if it2, _ := back.Item("item-2"); len(it2.Keys()) != 0 {
		t.Fatalf("item-2 has keys %v", it2.Keys())
	}

	// The unmarshalled order changes: appending to its timeline must not
	// write into the snapshot's array.
	s = o.Snapshot()
	s.Timeline = append(make([]domain.FulfillmentEvent, 0, len(s.Timeline)+8), s.Timeline...)
	back, _ = domain.UnmarshalOrder(s)
	if err := back.BeginItemPurchase("item-2", t0); err != nil {
		t.Fatal(err)
	}
	if extra := s.Timeline[:cap(s.Timeline)][len(s.Timeline)]; extra.Kind() != (domain.EventKind{}) {
		t.Fatalf("the order wrote %s into its snapshot's timeline", extra.Kind())
	}
}

// TestHoldForReview: a held order says why, emits one event, and a retry
// picks it up again where it stopped.
func TestHoldForReview(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilling)
	o.PopEvents()
	if err := o.HoldForReview("  ", t0); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("empty reason: %v", err)
	}
	const why = "supplier order so-1 is unknown to the supplier"
	if err := o.HoldForReview(why, t0); err != nil {
		t.Fatal(err)
	}
	if err := o.HoldForReview("again", t0); err != nil || o.ReviewReason() != why {
		t.Fatalf("second hold: %v, reason %q", err, o.ReviewReason())
	}
	evs := o.PopEvents()
	if len(evs) != 1 || evs[0].EventName() != domain.EventOrderNeedsReview {
		t.Fatalf("events %v", evs)
	}
	if err := o.RetryFulfilment(t0); err != nil || o.Status() != domain.StatusFulfilling {
		t.Fatalf("retry: %v, %s", err, o.Status())
	}
	if o.ReviewReason() != why {
		t.Fatalf("the timeline forgot why it was held: %q", o.ReviewReason())
	}
}

// StartFulfilment goes on only with a paid or fulfilling order; it never
// releases an order held for review, whatever message arrives again.
func TestStartFulfilmentFromEachStatus(t *testing.T) {
	t.Parallel()
	for _, s := range domain.OrderStatuses {
		t.Run(s.String(), func(t *testing.T) {
			o := inState(t, s)
			proceed, err := o.StartFulfilment(t0)
			wantProceed := s == domain.StatusPaid || s == domain.StatusFulfilling
			wantStatus := s
			if s == domain.StatusPaid {
				wantStatus = domain.StatusFulfilling
			}
			unpaid := s == domain.StatusPendingPayment || s == domain.StatusAwaitingPaymentSetup ||
				s == domain.StatusUnderpaid || s == domain.StatusExpired || s == domain.StatusRefunded
			if proceed != wantProceed || (err != nil) != unpaid || o.Status() != wantStatus {
				t.Errorf("from %s: proceed %v, err %v, status %s; want %v, error %v, %s", s, proceed, err, o.Status(), wantProceed, unpaid, wantStatus)
			}
		})
	}
}

// TestItemRecordsTheSupplierItIsBoughtFrom: an item records the supplier
// its purchase was begun with; once a purchase may exist there, it cannot
// be begun at another (that could buy twice).
func TestItemRecordsTheSupplierItIsBoughtFrom(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusPaid)
	if _, err := o.StartFulfilment(t0); err != nil {
		t.Fatal(err)
	}
	it := o.Items()[0]
	if it.BoughtFrom() != "" || it.Supplier() != it.Source().Supplier {
		t.Fatalf("before a purchase: bought from %q, supplier %q; want none and the product's %q", it.BoughtFrom(), it.Supplier(), it.Source().Supplier)
	}
	if err := o.BeginItemPurchaseFrom(it.ID(), "codeswholesale", t0); err != nil {
		t.Fatal(err)
	}
	it, _ = o.Item(it.ID())
	if it.BoughtFrom() != "codeswholesale" || it.Supplier() != "codeswholesale" {
		t.Fatalf("bought from %q, supplier %q; want codeswholesale", it.BoughtFrom(), it.Supplier())
	}
	if err := o.BeginItemPurchaseFrom(it.ID(), "kinguin", t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("begun at a second supplier: %v, want ErrInvalidTransition", err)
	}
	if err := o.BeginItemPurchase(it.ID(), t0); err != nil {
		t.Fatalf("resumed at the same supplier: %v", err)
	}
	if err := o.RecordItemPurchase(it.ID(), "cw-order-1", t0); err != nil {
		t.Fatal(err)
	}
	again, err := domain.UnmarshalOrder(o.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := again.Item(it.ID()); got.BoughtFrom() != "codeswholesale" {
		t.Fatalf("after a snapshot round trip bought from %q", got.BoughtFrom())
	}
}
