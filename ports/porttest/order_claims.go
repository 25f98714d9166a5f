package porttest

import (
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// lease is the delivery claim lease the claim subtests use.
const lease = 2 * time.Minute

// testOrderSavedCopy: changing an order after Create, or after Get,
// without Update, reaches neither the stored items nor the timeline.
func testOrderSavedCopy(t *testing.T, repo ports.OrderRepository) {
	o := orderIn(t, "ord-1", domain.StatusFulfilling)
	create(t, repo, o)
	stored := get(t, repo, "ord-1").Snapshot()
	if err := o.BeginItemPurchase("ord-1-c", suiteT0); err != nil {
		t.Fatalf("BeginItemPurchase on the created order: %v", err)
	}
	loaded := get(t, repo, "ord-1")
	if err := loaded.BeginItemPurchase("ord-1-c", suiteT0); err != nil {
		t.Fatalf("BeginItemPurchase on a loaded order: %v", err)
	}
	if err := loaded.FailItem("ord-1-a", "changed in memory", true, suiteT0); err != nil {
		t.Fatalf("FailItem on a loaded order: %v", err)
	}
	for _, d := range orderDiffs(get(t, repo, "ord-1").Snapshot(), stored) {
		t.Errorf("after changing copies without Update: %s", d)
	}
}

// testOrderDeliveryClaim: a claim taken in one Update is what the next
// load sees: its holder holds it, another worker cannot take it until the
// lease runs out, and then can. (Storage may round the claim's time to the
// microsecond, so the checks keep a second away from the lease's end.)
func testOrderDeliveryClaim(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusFulfilled))
	claimAt := suiteT0.Add(time.Minute)
	claim(t, repo, "worker-a", claimAt, true)

	got := get(t, repo, "ord-1")
	if c := got.Snapshot().DeliveryClaim; c.ID != "worker-a" || c.ClaimedAt.Sub(claimAt).Abs() >= time.Microsecond {
		t.Errorf("stored claim = %q at %s, want worker-a at %s", c.ID, c.ClaimedAt, claimAt)
	}
	if !got.HoldsDelivery("worker-a", claimAt.Add(lease-time.Second), lease) {
		t.Errorf("after a round trip worker-a does not hold its claim within the lease")
	}
	claim(t, repo, "worker-b", claimAt.Add(lease-time.Second), false)
	claim(t, repo, "worker-b", claimAt.Add(lease+time.Second), true)
	if get(t, repo, "ord-1").HoldsDelivery("worker-a", claimAt.Add(lease+time.Second), lease) {
		t.Errorf("worker-a still holds a claim worker-b took over")
	}
}

// testOrderDeliveryRelease: a released claim is free at once after a
// round trip, and releasing someone else's claim frees nothing.
func testOrderDeliveryRelease(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusFulfilled))
	claim(t, repo, "worker-a", suiteT0, true)
	release(t, repo, "worker-b")
	claim(t, repo, "worker-c", suiteT0.Add(time.Second), false)
	release(t, repo, "worker-a")
	if c := get(t, repo, "ord-1").Snapshot().DeliveryClaim; c != (domain.DeliveryClaim{}) {
		t.Errorf("stored claim after release = %+v, want none", c)
	}
	claim(t, repo, "worker-c", suiteT0.Add(time.Second), true)
}

func claim(t *testing.T, repo ports.OrderRepository, id string, at time.Time, want bool) {
	t.Helper()
	var got bool
	_, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		got = o.ClaimDelivery(id, at, lease)
		return nil
	})
	if err != nil {
		t.Fatalf("Update claiming %s: %v", id, err)
	}
	if got != want {
		t.Fatalf("ClaimDelivery(%s) at %s = %t, want %t", id, at, got, want)
	}
}

func release(t *testing.T, repo ports.OrderRepository, id string) {
	t.Helper()
	if _, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		o.ReleaseDelivery(id, suiteT0)
		return nil
	}); err != nil {
		t.Fatalf("Update releasing %s: %v", id, err)
	}
}
