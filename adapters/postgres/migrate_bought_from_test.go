package postgres_test

import (
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// boughtFromMigration is the version of migrations/00017_item_bought_from.sql.
const boughtFromMigration = 17

// TestBoughtFromIsBackfilledFromTheSource: items that reached a supplier
// before the column existed were bought from their product's source; the
// others were bought nowhere yet.
func TestBoughtFromIsBackfilledFromTheSource(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	orders := postgres.NewOrders(db, postgres.NoOutbox{})
	steps := map[string]func(o *domain.Order) error{
		"ord-purchased": func(o *domain.Order) error {
			if err := o.BeginItemPurchase(o.ID()+"-a", t0); err != nil {
				return err
			}
			return o.RecordItemPurchase(o.ID()+"-a", "so-1", t0)
		},
		"ord-purchasing": func(o *domain.Order) error { return o.BeginItemPurchase(o.ID()+"-a", t0) },
		"ord-pending":    func(*domain.Order) error { return nil },
	}
	for id, step := range steps {
		o := pendingOrder(t, id)
		if err := pay(o); err != nil {
			t.Fatal(err)
		}
		if _, err := o.StartFulfilment(t0); err != nil {
			t.Fatal(err)
		}
		if err := step(o); err != nil {
			t.Fatal(err)
		}
		if err := orders.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	migrateDownTo(t, db, boughtFromMigration-1)
	if err := postgres.Migrate(t.Context(), db.DB, postgres.DirectionUp); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"ord-purchased": "sandbox", "ord-purchasing": "sandbox", "ord-pending": ""} {
		var got string
		if err := db.Get(&got, `SELECT bought_from FROM order_items WHERE id = $1`, id+"-a"); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: bought from %q after the backfill, want %q", id, got, want)
		}
	}
}
