package postgres_test

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// paymentSetupMigration is migrations/00004: awaiting_payment_setup and
// refunded orders, and the payment's payin_extra_id.
const paymentSetupMigration = 4

// TestMigrationPaymentSetupDown: rolling 00004 back ends the orders the
// older code cannot read (awaiting their payment, refunded) as expired and
// keeps the others; applying it again accepts the new states.
func TestMigrationPaymentSetupDown(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	orders := postgres.NewOrders(db, postgres.NoOutbox{})
	refunded := pendingOrder(t, "ord-refunded")
	if _, err := refunded.ApplyPayment(domain.PaymentUpdate{PaymentID: refunded.Payment().PaymentID, Status: domain.PaymentRefunded,
		ActuallyPaid: decimal.RequireFromString("1")}, t0); err != nil {
		t.Fatal(err)
	}
	awaiting := pendingOrder(t, "ord-awaiting")
	awaiting, err := domain.UnmarshalOrder(func() domain.OrderSnapshot {
		s := awaiting.Snapshot()
		s.Status, s.Payment, s.Timeline = domain.StatusAwaitingPaymentSetup, domain.Payment{}, s.Timeline[:1]
		return s
	}())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*domain.Order{refunded, awaiting, pendingOrder(t, "ord-pending")} {
		if err := orders.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	for {
		current, _, err := postgres.MigrationStatus(t.Context(), db.DB)
		if err != nil {
			t.Fatal(err)
		}
		if current < paymentSetupMigration {
			break
		}
		if err := postgres.MigrateDown(t.Context(), db.DB); err != nil {
			t.Fatalf("MigrateDown from %d: %v", current, err)
		}
	}
	want := map[string]string{"ord-refunded": "expired", "ord-awaiting": "expired", "ord-pending": "pending_payment"}
	for id, status := range want {
		var got string
		if err := db.QueryRowContext(t.Context(), `SELECT status FROM orders WHERE id = $1`, id).Scan(&got); err != nil || got != status {
			t.Errorf("%s after rolling back: %q %v, want %s", id, got, err, status)
		}
	}
	if err := postgres.MigrateUp(t.Context(), db.DB); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	again := pendingOrder(t, "ord-again")
	if _, err := again.ApplyPayment(domain.PaymentUpdate{PaymentID: again.Payment().PaymentID, Status: domain.PaymentRefunded}, t0); err != nil {
		t.Fatal(err)
	}
	if err := orders.Create(t.Context(), again); err != nil {
		t.Fatalf("a refunded order after migrating up again: %v", err)
	}
}
