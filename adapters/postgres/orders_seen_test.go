package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestOrderUpdateSeen: an update from a copy the caller holds saves from
// it while the order is still as seen, and from the stored order when it
// moved on since: a stale copy is never written over a newer order, and a
// function that refuses the stale copy is asked again with the stored one.
func TestOrderUpdateSeen(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	repo := postgres.NewOrders(db, postgres.NoOutbox{})
	ctx := t.Context()
	o := pendingOrder(t, "seen-1")
	if err := repo.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	read, err := repo.Get(ctx, o.ID())
	if err != nil {
		t.Fatal(err)
	}

	// As seen: saved from the copy.
	paid, err := repo.UpdateSeen(ctx, read.Snapshot(), pay)
	if err != nil {
		t.Fatalf("UpdateSeen as seen: %v", err)
	}
	stored, err := repo.Get(ctx, o.ID())
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status() != domain.StatusPaid || stored.Version() != read.Version()+1 || len(stored.Timeline()) != len(paid.Timeline()) {
		t.Fatalf("after UpdateSeen: %s v%d with %d timeline entries, want paid v%d with %d",
			stored.Status(), stored.Version(), len(stored.Timeline()), read.Version()+1, len(paid.Timeline()))
	}

	// Moved on since: another update starts the fulfilment.
	seen := paid.Snapshot()
	if _, err := repo.Update(ctx, o.ID(), func(o *domain.Order) error {
		_, err := o.StartFulfilment(t0.Add(2 * time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	errStale := errors.New("not fulfilling")
	var asked []domain.OrderStatus
	held, err := repo.UpdateSeen(ctx, seen, func(o *domain.Order) error {
		asked = append(asked, o.Status())
		if o.Status() != domain.StatusFulfilling {
			return errStale
		}
		return o.HoldForReview("checked", t0.Add(3*time.Minute))
	})
	if err != nil {
		t.Fatalf("UpdateSeen from a stale copy: %v", err)
	}
	if len(asked) != 2 || asked[0] != domain.StatusPaid || asked[1] != domain.StatusFulfilling {
		t.Fatalf("fn was asked with %v, want the copy (paid) then the stored order (fulfilling)", asked)
	}
	stored, err = repo.Get(ctx, o.ID())
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status() != held.Status() || stored.Version() != held.Version() || len(stored.Timeline()) != len(held.Timeline()) {
		t.Fatalf("stored %s v%d (%d entries), returned %s v%d (%d entries)", stored.Status(), stored.Version(),
			len(stored.Timeline()), held.Status(), held.Version(), len(held.Timeline()))
	}

	// A stale copy the function takes is not written either.
	if _, err := repo.UpdateSeen(ctx, seen, func(o *domain.Order) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := repo.Get(ctx, o.ID()); err != nil || got.Status() != held.Status() {
		t.Fatalf("after an update from a stale copy the order is %v (%v), want %s", got.Status(), err, held.Status())
	}
}
