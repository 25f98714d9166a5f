package postgres_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestMigrationCarriesDeliveryClaims: migrations/00003 moves the delivery
// claim from the timeline into columns of orders. Rolling it back and
// applying it again must bring back each order's claim in force, read from
// its timeline as the code before it did.
func TestMigrationCarriesDeliveryClaims(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	orders := postgres.NewOrders(db, postgres.NoOutbox{})
	const lease = 2 * time.Minute
	later := t0.Add(time.Hour)
	cases := []struct {
		id      string
		history func(o *domain.Order)
		want    domain.DeliveryClaim
	}{
		{"ord-unclaimed", func(*domain.Order) {}, domain.DeliveryClaim{}},
		{"ord-held", func(o *domain.Order) { o.ClaimDelivery("a", t0, lease) }, domain.DeliveryClaim{ID: "a", ClaimedAt: t0}},
		{"ord-released", func(o *domain.Order) { o.ClaimDelivery("a", t0, lease); o.ReleaseDelivery("a", t0) }, domain.DeliveryClaim{}},
		{"ord-taken-over", func(o *domain.Order) { o.ClaimDelivery("a", t0, lease); o.ClaimDelivery("b", later, lease) }, domain.DeliveryClaim{ID: "b", ClaimedAt: later}},
		{"ord-reclaimed", func(o *domain.Order) {
			o.ClaimDelivery("a", t0, lease)
			o.ReleaseDelivery("a", t0)
			o.ClaimDelivery("b", later, lease)
		}, domain.DeliveryClaim{ID: "b", ClaimedAt: later}},
	}
	for _, c := range cases {
		if err := orders.Create(t.Context(), fulfilledOrder(t, c.id)); err != nil {
			t.Fatal(err)
		}
		if _, err := orders.Update(t.Context(), c.id, func(o *domain.Order) error { c.history(o); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// Roll back to just before 00003, whatever later migrations exist.
	for current, _, err := postgres.MigrationStatus(t.Context(), db.DB); current > 2; current, _, err = postgres.MigrationStatus(t.Context(), db.DB) {
		if err != nil {
			t.Fatal(err)
		}
		if err := postgres.MigrateDown(t.Context(), db.DB); err != nil {
			t.Fatalf("MigrateDown: %v", err)
		}
	}
	if current, _, err := postgres.MigrationStatus(t.Context(), db.DB); err != nil || current != 2 {
		t.Fatalf("after MigrateDown: version %d, %v; want 2", current, err)
	}
	if err := postgres.MigrateUp(t.Context(), db.DB); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	for _, c := range cases {
		o, err := orders.Get(t.Context(), c.id)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.Snapshot().DeliveryClaim; got.ID != c.want.ID || !got.ClaimedAt.Equal(c.want.ClaimedAt) {
			t.Errorf("%s: claim %+v, want %+v", c.id, got, c.want)
		}
	}
}

// fulfilledOrder returns pendingOrder paid, its item sealed, fulfilled.
func fulfilledOrder(t *testing.T, id string) *domain.Order {
	t.Helper()
	o := pendingOrder(t, id)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("fulfilling %s: %v", id, err)
		}
	}
	must(pay(o))
	_, err := o.StartFulfilment(t0)
	must(err)
	item := id + "-a"
	must(o.BeginItemPurchase(item, t0))
	must(o.RecordItemPurchase(item, "so-"+item, t0))
	must(o.SealItem(item, []domain.SealedKey{{Slot: 0, BlobRef: "b/0"}, {Slot: 1, BlobRef: "b/1"}}, t0))
	must(o.CompleteFulfilment(t0))
	return o
}
