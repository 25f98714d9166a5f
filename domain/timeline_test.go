package domain_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// TestEventKindNames pins the stored names: storage and the API hold them,
// so a kind is never renamed.
func TestEventKindNames(t *testing.T) {
	t.Parallel()
	want := []string{
		"order_placed", "payment_created", "payment_confirmed", "payment_held", "payment_waiting",
		"payment_confirming", "payment_sending", "payment_failed", "payment_expired", "payment_refunded",
		"order_expired", "fulfilment_started", "item_purchasing", "item_purchased", "item_sealed", "item_failed",
		"order_fulfilled", "order_failed", "fulfilment_retried", "delivery_claimed", "delivery_released",
		"delivery_link_sent", "delivery_link_resent", "order_revoked", "payment_setup_failed", "repeat_deposit",
		"held_for_review", "claim_opened", "claim_rejected", "key_replaced", "order_refunded", "key_outcome",
		"return_requested", "return_answered", "replacement_requested", "replacement_bought",
		"item_awaiting_release",
	}
	var got []string
	for _, k := range domain.EventKinds {
		got = append(got, k.String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("kinds = %v\nwant    %v", got, want)
	}
}

func TestParseEventKind(t *testing.T) {
	t.Parallel()
	for _, k := range domain.EventKinds {
		if got, err := domain.ParseEventKind(k.String()); err != nil || got != k {
			t.Errorf("ParseEventKind(%q) = %v, %v", k, got, err)
		}
	}
	for _, bad := range []string{"", "ORDER_PLACED", "payment_finished", "payment_partially_paid", "shipped", " order_placed"} {
		if k, err := domain.ParseEventKind(bad); !errors.Is(err, domain.ErrInvalidOrder) || k != (domain.EventKind{}) {
			t.Errorf("ParseEventKind(%q) = %v, %v; want ErrInvalidOrder", bad, k, err)
		}
	}
}

func kinds(es []domain.FulfillmentEvent) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Kind().String()
	}
	return out
}

// TestTimelineOfAnOrder: the entries a whole life of an order records.
func TestTimelineOfAnOrder(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilled)
	o.ClaimDelivery("c", t0, time.Minute)
	o.ReleaseDelivery("c", t0)
	o.ClaimDelivery("d", t0, time.Minute)
	if err := o.MarkDelivered("l", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordLinkResent("l2", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.Revoke("fraud", t0); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"order_placed", "payment_created", "payment_confirmed", "fulfilment_started",
		"item_purchasing", "item_purchased", "item_sealed", "item_purchasing", "item_purchased", "item_sealed",
		"order_fulfilled", "delivery_claimed", "delivery_released", "delivery_claimed",
		"delivery_link_sent", "delivery_link_resent", "order_revoked",
	}
	if got := kinds(o.Timeline()); !slices.Equal(got, want) {
		t.Fatalf("timeline = %v\nwant       %v", got, want)
	}
	last := o.Timeline()[len(want)-1]
	if last.Status() != domain.StatusRevoked || last.Value("reason") != "fraud" || last.Value("from") != "delivered" || !last.At().Equal(t0) {
		t.Fatalf("last entry %s %s %v %s", last.Kind(), last.Status(), last.Metadata(), last.At())
	}
}

// TestPaymentTimeline: the entry each payment status records on a
// pending order.
func TestPaymentTimeline(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status domain.PaymentStatus
		want   string // "" records nothing
	}{
		{domain.PaymentWaiting, ""},
		{domain.PaymentConfirming, "payment_confirming"},
		{domain.PaymentConfirmed, "payment_confirmed"},
		{domain.PaymentSending, "payment_sending"},
		{domain.PaymentPartiallyPaid, "payment_held"},
		{domain.PaymentFinished, "payment_confirmed"},
		{domain.PaymentFailed, "payment_failed"},
		{domain.PaymentExpired, "payment_expired"},
		{domain.PaymentRefunded, "payment_refunded"},
	}
	for _, c := range cases {
		t.Run(c.status.String(), func(t *testing.T) {
			t.Parallel()
			o := newOrder(t)
			before := len(o.Timeline())
			if _, err := o.ApplyPayment(paidUpdate(c.status), t0); err != nil {
				t.Fatal(err)
			}
			got := kinds(o.Timeline()[before:])
			if want := []string{c.want}; c.want == "" && len(got) != 0 || c.want != "" && !slices.Equal(got, want) {
				t.Fatalf("recorded %v, want %q", got, c.want)
			}
		})
	}
	u := inState(t, domain.StatusUnderpaid)
	if _, err := u.ApplyPayment(paidUpdate(domain.PaymentFailed), t0); err != nil {
		t.Fatal(err)
	}
	if tl := u.Timeline(); tl[len(tl)-1].Kind() != domain.EventKindPaymentFailed || tl[len(tl)-1].Status() != domain.StatusUnderpaid {
		t.Fatalf("a failed payment on a held order recorded %s %s", tl[len(tl)-1].Kind(), tl[len(tl)-1].Status())
	}
}

func TestUnmarshalFulfillmentEvent(t *testing.T) {
	t.Parallel()
	meta := map[string]string{"claim": "a"}
	e, err := domain.UnmarshalFulfillmentEvent(domain.EventKindDeliveryClaimed, domain.StatusFulfilled, meta, t0)
	if err != nil {
		t.Fatal(err)
	}
	meta["claim"] = "changed"
	e.Metadata()["claim"] = "changed too"
	if e.Kind() != domain.EventKindDeliveryClaimed || e.Status() != domain.StatusFulfilled || !e.At().Equal(t0) ||
		!maps.Equal(e.Metadata(), map[string]string{"claim": "a"}) {
		t.Fatalf("entry %s %s %v %s", e.Kind(), e.Status(), e.Metadata(), e.At())
	}
	if e, err := domain.UnmarshalFulfillmentEvent(domain.EventKindOrderPlaced, domain.StatusPendingPayment, nil, t0); err != nil || e.Metadata() == nil {
		t.Fatalf("no metadata: %v, %v", e.Metadata(), err)
	}
	cases := []struct {
		name   string
		kind   domain.EventKind
		status domain.OrderStatus
		at     time.Time
	}{
		{"no kind", domain.EventKind{}, domain.StatusPaid, t0},
		{"no status", domain.EventKindOrderPlaced, domain.OrderStatus{}, t0},
		{"no time", domain.EventKindOrderPlaced, domain.StatusPaid, time.Time{}},
	}
	for _, c := range cases {
		if _, err := domain.UnmarshalFulfillmentEvent(c.kind, c.status, nil, c.at); !errors.Is(err, domain.ErrInvalidOrder) {
			t.Errorf("%s: err = %v, want ErrInvalidOrder", c.name, err)
		}
	}
	s := newOrder(t).Snapshot()
	s.Timeline = append(s.Timeline, domain.FulfillmentEvent{})
	if _, err := domain.UnmarshalOrder(s); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("UnmarshalOrder with a zero timeline entry: %v", err)
	}
}
