package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keyward/keyward/domain"
)

// TestReplaceItemKeys: the keys shown are marked bad and kept; the
// replacements take their place; the timeline and the events say so.
func TestReplaceItemKeys(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	o.PopEvents()
	it := o.Items()[0]
	before := it.Keys()
	repl := make([]domain.SealedKey, len(before))
	for i := range repl {
		slot := it.NextSlot() + i
		repl[i] = domain.SealedKey{Slot: slot, BlobRef: fmt.Sprintf("r/%d", slot), ContentType: "text/plain"}
	}
	if err := o.ReplaceItemKeys(it.ID(), "claim-1", repl, t0); err != nil {
		t.Fatal(err)
	}
	it, _ = o.Item(it.ID())
	if got := it.CurrentKeys(); len(got) != len(before) || got[0].Slot != len(before) || got[0].ClaimID != "claim-1" || got[0].Bad {
		t.Fatalf("current keys after the replacement: %+v", got)
	}
	if bad := it.BadKeys(); len(bad) != len(before) || bad[0].BlobRef != before[0].BlobRef || bad[0].ClaimID != "claim-1" {
		t.Fatalf("bad keys: %+v, want the %d replaced ones", bad, len(before))
	}
	if len(it.Keys()) != 2*len(before) || it.NextSlot() != 2*len(before) {
		t.Fatalf("keys %d, next slot %d", len(it.Keys()), it.NextSlot())
	}
	var names []string
	for _, e := range o.PopEvents() {
		names = append(names, e.EventName())
		if e.(domain.OrderEvent).Reason != "claim-1" {
			t.Fatalf("event %s carries reason %q, want the claim", e.EventName(), e.(domain.OrderEvent).Reason)
		}
	}
	if fmt.Sprint(names) != "[claim.approved key.replaced]" {
		t.Fatalf("events %v", names)
	}
	last := o.Timeline()[len(o.Timeline())-1]
	if last.Kind() != domain.EventKindKeyReplaced || last.Metadata()["claim_id"] != "claim-1" {
		t.Fatalf("timeline ends with %s %v", last.Kind(), last.Metadata())
	}

	// A second replacement replaces the replacement, not the bad key.
	again := []domain.SealedKey{{Slot: it.NextSlot(), BlobRef: "r2", ContentType: "text/plain"}}
	if len(before) == 1 {
		if err := o.ReplaceItemKeys(it.ID(), "claim-2", again, t0); err != nil {
			t.Fatal(err)
		}
		it, _ = o.Item(it.ID())
		if cur := it.CurrentKeys(); len(cur) != 1 || cur[0].BlobRef != "r2" || len(it.BadKeys()) != 2 {
			t.Fatalf("after a second replacement: current %+v, bad %+v", cur, it.BadKeys())
		}
	}
}

// TestReplaceItemKeysRefuses: a replacement that would lose or overwrite
// a key, or an order not delivered, changes nothing.
func TestReplaceItemKeysRefuses(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	it := o.Items()[0]
	n := len(it.Keys())
	slotTaken := make([]domain.SealedKey, n)
	fresh := make([]domain.SealedKey, n)
	for i := range n {
		slotTaken[i] = domain.SealedKey{Slot: i, BlobRef: "x", ContentType: "text/plain"}
		fresh[i] = domain.SealedKey{Slot: n + i, BlobRef: "x", ContentType: "text/plain"}
	}
	before := len(o.Timeline())
	for name, tc := range map[string]struct {
		o    *domain.Order
		item string
		keys []domain.SealedKey
		want error
	}{
		"slot taken":    {o, it.ID(), slotTaken, domain.ErrInvalidOrder},
		"too few":       {o, it.ID(), fresh[:n-1], domain.ErrInvalidOrder},
		"unknown item":  {o, "nope", fresh, domain.ErrItemNotFound},
		"not delivered": {inState(t, domain.StatusFulfilled), it.ID(), fresh, domain.ErrInvalidTransition},
		"revoked":       {inState(t, domain.StatusRevoked), it.ID(), fresh, domain.ErrInvalidTransition},
	} {
		if err := tc.o.ReplaceItemKeys(tc.item, "c", tc.keys, t0); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	cur, _ := o.Item(it.ID())
	if len(cur.BadKeys()) != 0 || len(o.Timeline()) != before {
		t.Fatalf("a refused replacement changed the order: %+v", cur.Keys())
	}
}
