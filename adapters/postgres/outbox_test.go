package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// The outbox sees the save inside the transaction: the order is visible
// through tx and not yet to anybody else.
func TestOutboxRunsInTheSavingTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	outbox := &fakeOutbox{}
	var inside, outside []string
	outbox.probe = func(ctx context.Context, tx *sql.Tx) {
		var s string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM orders WHERE id = 'ord-1'`).Scan(&s); err != nil {
			t.Errorf("read the order through the outbox's tx: %v", err)
		}
		inside = append(inside, s)
		err := db.QueryRowContext(ctx, `SELECT status FROM orders WHERE id = 'ord-1'`).Scan(&s)
		if errors.Is(err, sql.ErrNoRows) {
			s = "absent"
		} else if err != nil {
			t.Errorf("read the order outside: %v", err)
		}
		outside = append(outside, s)
	}
	orders := postgres.NewOrders(db, outbox)

	if err := orders.Create(t.Context(), pendingOrder(t, "ord-1")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := orders.Update(t.Context(), "ord-1", pay); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if want := []string{"pending_payment", "paid"}; !slices.Equal(inside, want) {
		t.Errorf("inside the transaction the outbox saw %v, want %v", inside, want)
	}
	if want := []string{"absent", "pending_payment"}; !slices.Equal(outside, want) {
		t.Errorf("outside the transaction, during PublishTx, others saw %v, want %v", outside, want)
	}
	if want := []string{domain.EventOrderPlaced, domain.EventPaymentCreated, domain.EventOrderPaid}; !slices.Equal(outbox.published(), want) {
		t.Errorf("published %v, want %v", outbox.published(), want)
	}
}

// A failing outbox rolls the whole save back: nothing is half-saved.
func TestOutboxFailureRollsBack(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	errOutbox := errors.New("outbox down")
	failing := false
	outbox := &fakeOutbox{fail: func(int) error {
		if failing {
			return errOutbox
		}
		return nil
	}}
	orders := postgres.NewOrders(db, outbox)

	failing = true
	if err := orders.Create(t.Context(), pendingOrder(t, "ord-1")); !errors.Is(err, errOutbox) {
		t.Fatalf("Create with a failing outbox = %v, want the outbox's error", err)
	}
	if _, err := orders.Get(t.Context(), "ord-1"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get after a rolled-back Create = %v, want domain.ErrNotFound", err)
	}
	for _, table := range []string{"order_items", "order_timeline"} {
		var n int
		if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM `+table); err != nil || n != 0 {
			t.Errorf("%s has %d rows (%v) after a rolled-back Create, want 0", table, n, err)
		}
	}

	failing = false
	if err := orders.Create(t.Context(), pendingOrder(t, "ord-1")); err != nil {
		t.Fatalf("Create: %v", err)
	}
	before, err := orders.Get(t.Context(), "ord-1")
	if err != nil {
		t.Fatal(err)
	}
	failing = true
	if _, err := orders.Update(t.Context(), "ord-1", pay); !errors.Is(err, errOutbox) {
		t.Fatalf("Update with a failing outbox = %v, want the outbox's error", err)
	}
	after, err := orders.Get(t.Context(), "ord-1")
	if err != nil {
		t.Fatal(err)
	}
	if after.Status() != before.Status() || after.Version() != before.Version() || len(after.Timeline()) != len(before.Timeline()) {
		t.Errorf("after a rolled-back Update: %s v%d with %d entries, want %s v%d with %d",
			after.Status(), after.Version(), len(after.Timeline()), before.Status(), before.Version(), len(before.Timeline()))
	}
}

// A serialization failure is retried in a new transaction, which publishes
// the same events again; the first attempt left nothing behind.
func TestSerializationFailureIsRetried(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	outbox := &fakeOutbox{fail: func(call int) error {
		if call%2 == 1 { // the first attempt of each save
			return &pq.Error{Code: pqerror.TRSerializationFailure, Message: "could not serialize access"}
		}
		return nil
	}}
	orders := postgres.NewOrders(db, outbox)
	o := pendingOrder(t, "ord-1")
	if err := orders.Create(t.Context(), o); err != nil {
		t.Fatalf("Create: %v", err)
	}
	updated, err := orders.Update(t.Context(), "ord-1", pay)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if outbox.calls != 4 {
		t.Errorf("outbox called %d times, want 4 (each save tried twice)", outbox.calls)
	}
	if want := []string{domain.EventOrderPlaced, domain.EventPaymentCreated, domain.EventOrderPaid}; !slices.Equal(outbox.published(), want) {
		t.Errorf("published %v, want %v", outbox.published(), want)
	}
	got, err := orders.Get(t.Context(), "ord-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Version() != 2 || updated.Version() != 2 || len(got.Timeline()) != len(updated.Timeline()) {
		t.Errorf("stored v%d with %d timeline entries; want v2 with %d", got.Version(), len(got.Timeline()), len(updated.Timeline()))
	}
}

// Item ids are global (the supplier sees them): another order may not
// reuse one, nor overwrite it.
func TestItemIDBelongsToOneOrder(t *testing.T) {
	t.Parallel()
	orders := postgres.NewOrders(pgtest.NewDB(t), postgres.NoOutbox{})
	if err := orders.Create(t.Context(), pendingOrder(t, "ord-1")); err != nil {
		t.Fatal(err)
	}
	thief := pendingOrder(t, "ord-1") // same item id "ord-1-a"...
	s := thief.Snapshot()
	s.ID = "ord-2" // ...under another order
	o, err := domain.UnmarshalOrder(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := orders.Create(t.Context(), o); !errors.Is(err, domain.ErrConflict) {
		t.Errorf("Create reusing another order's item id = %v, want domain.ErrConflict", err)
	}
	if _, err := orders.Get(t.Context(), "ord-2"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the refused order was stored: %v", err)
	}
}
