package postgres_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// pendingOrder returns a new order for 2 × 19.99 EUR with a waiting payment.
func pendingOrder(t *testing.T, id string) *domain.Order {
	t.Helper()
	p, err := domain.NewProduct(domain.ProductSnapshot{
		SKU: "sku-a", Name: "Game A", Price: domain.MustMoney("19.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: "sp-a", Cost: domain.MustMoney("12.00", "EUR")},
		Stock:  5, Active: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	email, _ := domain.ParseEmail("buyer@example.com")
	o, err := domain.NewOrder(id, email, domain.HashToken("access"), []domain.NewItem{{ID: id + "-a", Product: p, Quantity: 2}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-" + id, PayAmount: decimal.RequireFromString("43.1"), PayCurrency: "usdttrc20"}, t0); err != nil {
		t.Fatal(err)
	}
	return o
}

// pay applies the notification that pays o in full.
func pay(o *domain.Order) error {
	_, err := o.ApplyPayment(domain.PaymentUpdate{
		PaymentID: o.Payment().PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(), PriceCurrency: "EUR",
		PayAmount: o.Payment().PayAmount, ActuallyPaid: o.Payment().PayAmount, PayCurrency: o.Payment().PayCurrency,
	}, t0.Add(time.Minute))
	return err
}

// fakeOutbox records what it is given. Its probe runs inside PublishTx;
// fail, when set, is returned by the next calls.
type fakeOutbox struct {
	mu     sync.Mutex
	calls  int
	events []string
	probe  func(ctx context.Context, tx *sql.Tx)
	fail   func(call int) error
}

func (f *fakeOutbox) PublishTx(ctx context.Context, tx *sql.Tx, events ...domain.Event) error {
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.mu.Unlock()
	if f.probe != nil {
		f.probe(ctx, tx)
	}
	if f.fail != nil {
		if err := f.fail(call); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range events {
		f.events = append(f.events, e.EventName())
	}
	return nil
}

func (f *fakeOutbox) published() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// countingDB is an empty database on a counting pool, closed with the
// test.
func countingDB(t *testing.T) (*sqlx.DB, *postgres.SQLCounter) {
	t.Helper()
	return countingPool(t, pgtest.NewEmptyDatabase(t))
}

// countingPool opens a counting pool on the database at url, closed with
// the test.
func countingPool(t *testing.T, url string) (*sqlx.DB, *postgres.SQLCounter) {
	t.Helper()
	c := &postgres.SQLCounter{}
	db, err := postgres.OpenCounting(t.Context(), url, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, c
}
