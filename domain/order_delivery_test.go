package domain_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

const lease = time.Minute

// TestClaimDeliveryByState: only a fulfilled order can be claimed or held;
// in any other state a claim is refused and changes nothing.
func TestClaimDeliveryByState(t *testing.T) {
	t.Parallel()
	for _, s := range domain.OrderStatuses {
		t.Run(s.String(), func(t *testing.T) {
			t.Parallel()
			o := inState(t, s)
			before := len(o.Timeline())
			want := s == domain.StatusFulfilled
			if got := o.ClaimDelivery("a", t0, lease); got != want {
				t.Fatalf("ClaimDelivery = %t, want %t", got, want)
			}
			if got := o.HoldsDelivery("a", t0, lease); got != want {
				t.Fatalf("HoldsDelivery = %t, want %t", got, want)
			}
			claim := o.Snapshot().DeliveryClaim
			if want && (claim.ID != "a" || !claim.ClaimedAt.Equal(t0) || len(o.Timeline()) != before+1) {
				t.Fatalf("after a claim: %+v, %d new timeline entries", claim, len(o.Timeline())-before)
			}
			if !want && (claim != domain.DeliveryClaim{} || len(o.Timeline()) != before || o.Status() != s) {
				t.Fatalf("a refused claim changed the order: %+v, %d new timeline entries, %s", claim, len(o.Timeline())-before, o.Status())
			}
		})
	}
}

// TestClaimDelivery runs each claim against each earlier claim history:
// who gets the claim, who holds it afterwards, and what the timeline says.
func TestClaimDelivery(t *testing.T) {
	t.Parallel()
	claimA := func(o *domain.Order) { o.ClaimDelivery("a", t0, lease) }
	cases := []struct {
		name     string
		history  func(o *domain.Order)
		claimant string
		after    time.Duration // since t0
		want     bool
		holder   string // who holds the claim afterwards ("" nobody)
	}{
		{"no claim yet", func(*domain.Order) {}, "b", 0, true, "b"},
		{"another's fresh claim", claimA, "b", lease - 1, false, "a"},
		{"another's claim at its lease's end", claimA, "b", lease, true, "b"},
		{"another's stale claim", claimA, "b", time.Hour, true, "b"},
		{"own fresh claim renews it", claimA, "a", lease / 2, true, "a"},
		{"own stale claim", claimA, "a", time.Hour, true, "a"},
		{"a released claim is free at once", func(o *domain.Order) { claimA(o); o.ReleaseDelivery("a", t0) }, "b", time.Second, true, "b"},
		{"releasing another's claim frees nothing", func(o *domain.Order) { claimA(o); o.ReleaseDelivery("b", t0) }, "c", time.Second, false, "a"},
		{"an empty claim id", func(*domain.Order) {}, "", 0, false, ""},
		{"an empty claim id against a claim", claimA, "", time.Second, false, "a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := inState(t, domain.StatusFulfilled)
			c.history(o)
			before := len(o.Timeline())
			now := t0.Add(c.after)
			if got := o.ClaimDelivery(c.claimant, now, lease); got != c.want {
				t.Fatalf("ClaimDelivery(%q) = %t, want %t", c.claimant, got, c.want)
			}
			for _, w := range []string{"a", "b", "c"} {
				if got := o.HoldsDelivery(w, now, lease); got != (w == c.holder) {
					t.Errorf("HoldsDelivery(%s) = %t, want %t", w, got, w == c.holder)
				}
			}
			added := o.Timeline()[before:]
			switch {
			case c.want && (len(added) != 1 || added[0].Kind() != domain.EventKindDeliveryClaimed || added[0].Value("claim") != c.claimant || !added[0].At().Equal(now)):
				t.Errorf("a claim recorded %v", added)
			case !c.want && len(added) != 0:
				t.Errorf("a refused claim recorded %v", added)
			}
			if c.want && !o.HoldsDelivery(c.claimant, now.Add(lease-1), lease) {
				t.Errorf("a new claim's lease does not run from %s", now)
			}
		})
	}
}

func TestHoldsDelivery(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		claim string
		after time.Duration
		want  bool
	}{
		{"the holder within the lease", "a", lease - 1, true},
		{"the holder at the lease's end", "a", lease, false},
		{"another worker", "b", 0, false},
		{"an empty claim id", "", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := inState(t, domain.StatusFulfilled)
			o.ClaimDelivery("a", t0, lease)
			if got := o.HoldsDelivery(c.claim, t0.Add(c.after), lease); got != c.want {
				t.Fatalf("HoldsDelivery = %t, want %t", got, c.want)
			}
		})
	}
	o := inState(t, domain.StatusFulfilled)
	o.ClaimDelivery("a", t0, lease)
	if err := o.MarkDelivered("l", t0); err != nil {
		t.Fatal(err)
	}
	if o.HoldsDelivery("a", t0, lease) {
		t.Fatal("a claim holds on a delivered order")
	}
}

func TestReleaseDelivery(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilled)
	o.ClaimDelivery("a", t0, lease)
	before := len(o.Timeline())
	o.ReleaseDelivery("b", t0)
	o.ReleaseDelivery("", t0)
	if len(o.Timeline()) != before || !o.HoldsDelivery("a", t0, lease) {
		t.Fatal("releasing a claim not held changed the order")
	}
	o.ReleaseDelivery("a", t0.Add(time.Second))
	added := o.Timeline()[before:]
	if o.HoldsDelivery("a", t0, lease) || o.Snapshot().DeliveryClaim != (domain.DeliveryClaim{}) {
		t.Fatal("a released claim is still held")
	}
	if len(added) != 1 || added[0].Kind() != domain.EventKindDeliveryReleased || added[0].Value("claim") != "a" {
		t.Fatalf("release recorded %v", added)
	}
	o.ReleaseDelivery("a", t0.Add(2*time.Second))
	if len(o.Timeline()) != before+1 {
		t.Fatal("releasing twice recorded twice")
	}
}

// TestClaimSurvivesSnapshot: the claim is part of the order's stored
// state, not something read back from the timeline.
func TestClaimSurvivesSnapshot(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusFulfilled)
	o.ClaimDelivery("a", t0, lease)
	s := o.Snapshot()
	s.Timeline = s.Timeline[:len(s.Timeline)-1] // drop the delivery_claimed entry
	back, err := domain.UnmarshalOrder(s)
	if err != nil {
		t.Fatal(err)
	}
	if !back.HoldsDelivery("a", t0.Add(lease-1), lease) || back.ClaimDelivery("b", t0.Add(lease-1), lease) {
		t.Fatal("the claim did not survive a snapshot")
	}
	for _, bad := range []domain.DeliveryClaim{{ID: "a"}, {ClaimedAt: t0}} {
		s := o.Snapshot()
		s.DeliveryClaim = bad
		if _, err := domain.UnmarshalOrder(s); err == nil {
			t.Errorf("UnmarshalOrder accepted the claim %+v", bad)
		}
	}
}
