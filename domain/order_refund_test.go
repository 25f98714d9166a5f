package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/domain"
)

func TestRefundNeedsAnOutcomeForEveryKey(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	o.PopEvents()
	var keys []domain.RefundedKey
	for _, it := range o.Items() {
		for _, k := range it.Keys() {
			keys = append(keys, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyReturned, Detail: "kinguin order K-1"})
		}
	}
	if len(keys) == 0 {
		t.Fatal("a delivered order without keys")
	}
	if err := o.Refund("r", "ref", keys[1:], nil, t0); !errors.Is(err, domain.ErrInvalidOrder) {
		t.Fatalf("refund with a key without outcome: %v, want ErrInvalidOrder", err)
	}
	if err := o.Refund("fraud", "chargeback 77", keys, []string{"K-1"}, t0); err != nil {
		t.Fatal(err)
	}
	entries := 0
	for _, e := range o.NewTimeline() {
		if e.Kind() == domain.EventKindKeyOutcome && e.Metadata()["outcome"] == "returned" {
			entries++
		}
	}
	if entries != len(keys) {
		t.Fatalf("%d key_outcome entries, want %d", entries, len(keys))
	}
	if o.Status() != domain.StatusRefunded || len(o.Items()[0].Keys()) != 0 {
		t.Fatalf("order %s with %d keys, want refunded and shredded", o.Status(), len(o.Items()[0].Keys()))
	}
	var names []string
	for _, e := range o.PopEvents() {
		names = append(names, e.EventName()+"/"+e.(domain.OrderEvent).Reason)
	}
	if len(names) != 2 || names[len(names)-2] != "order.refunded/fraud" || names[len(names)-1] != "key.returned/K-1" {
		t.Fatalf("events %v", names)
	}
	if err := o.Refund("again", "", nil, nil, t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("second refund: %v, want ErrInvalidTransition", err)
	}
}

func TestKeyReturnedWebhookNamesTheSupplierOrder(t *testing.T) {
	t.Parallel()
	if !domain.IsWebhookEventType("key.returned") {
		t.Fatal("key.returned is not in the webhook catalogue")
	}
	w, ok, err := domain.WebhookEventFor("wh-9", domain.OrderEvent{Name: domain.EventKeyReturned, OrderID: "o1", At: t0, Reason: "PHS84FJAG5U"})
	if err != nil || !ok || w.Type != "key.returned" {
		t.Fatalf("webhook for key.returned: %+v %v %v", w, ok, err)
	}
	if got := string(w.Body); !strings.Contains(got, `"supplier_order_id":"PHS84FJAG5U"`) || !strings.Contains(got, `"order_id":"o1"`) {
		t.Fatalf("payload %s", got)
	}
}

// TestReturnRequestIsRecordedOnceAndAnsweredOnce: a supplier order's
// return is recorded before the supplier is asked, once, and its answer
// once; the order's timeline tells a later refund both.
func TestReturnRequestIsRecordedOnceAndAnsweredOnce(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	it := o.Items()[0]
	ref := it.SupplierOrderID()
	if ref == "" {
		t.Fatal("a delivered item without a supplier order")
	}
	if r := o.ReturnRequest(ref); r.Requested || r.Answered {
		t.Fatalf("before any request: %+v", r)
	}
	if err := o.RecordReturnAnswer(ref, 1, 0, "", t0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("an answer before the request: %v, want ErrInvalidTransition", err)
	}
	if err := o.RecordReturnRequested(it.ID(), t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordReturnRequested(it.ID(), t0); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a second request: %v, want ErrConflict", err)
	}
	if r := o.ReturnRequest(ref); !r.Requested || r.Answered {
		t.Fatalf("after the request: %+v", r)
	}
	if err := o.RecordReturnAnswer(ref, 1, 2, "", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordReturnAnswer(ref, 0, 0, "NoKeysToReturn", t0); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a second answer: %v, want ErrConflict", err)
	}
	if r := o.ReturnRequest(ref); r != (domain.ReturnRequest{SupplierOrderID: ref, Requested: true, RequestedAt: t0, Answered: true, Returned: 1, Kept: 2}) {
		t.Fatalf("after the answer: %+v", r)
	}
	if r := o.ReturnRequest("another"); r.Requested {
		t.Fatalf("another supplier order: %+v", r)
	}
	// Rehydrated from storage, the order still knows.
	back, err := domain.UnmarshalOrder(o.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if r := back.ReturnRequest(ref); !r.Answered || r.Returned != 1 {
		t.Fatalf("rehydrated: %+v", r)
	}
}

// TestReplacementPurchaseIsRecordedOncePerClaim: a claim's replacement
// purchase is recorded before the supplier is asked and once bought, each
// once; another supplier order for the same claim is a conflict.
func TestReplacementPurchaseIsRecordedOncePerClaim(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	it := o.Items()[0].ID()
	if p := o.ReplacementPurchase("claim-1"); p.Requested || p.Bought() {
		t.Fatalf("before any purchase: %+v", p)
	}
	for range 2 {
		if err := o.RecordReplacementRequested("claim-1", it, "kinguin", t0); err != nil {
			t.Fatal(err)
		}
	}
	if p := o.ReplacementPurchase("claim-1"); !p.Requested || p.Bought() || p.Supplier != "kinguin" {
		t.Fatalf("requested: %+v", p)
	}
	for range 2 {
		if err := o.RecordReplacementBought("claim-1", it, "kinguin", "K-9", t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.RecordReplacementBought("claim-1", it, "kinguin", "K-10", t0); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("another order for the claim: %v, want ErrConflict", err)
	}
	if err := o.RecordReplacementBought("claim-1", "no-such-item", "kinguin", "K-9", t0); !errors.Is(err, domain.ErrItemNotFound) {
		t.Fatalf("another order's item: %v, want ErrItemNotFound", err)
	}
	if p := o.ReplacementPurchase("claim-1"); p != (domain.ReplacementPurchase{ClaimID: "claim-1", Supplier: "kinguin", Requested: true, SupplierOrderID: "K-9"}) {
		t.Fatalf("bought: %+v", p)
	}
	n := 0
	for _, e := range o.Timeline() {
		if e.Kind() == domain.EventKindReplacementRequested || e.Kind() == domain.EventKindReplacementBought {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d purchase entries on the timeline, want 2", n)
	}
	if p := o.ReplacementPurchase("claim-2"); p.Requested {
		t.Fatalf("another claim: %+v", p)
	}
}
