package application_test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// pgStockWorld is the application on PostgreSQL storage and the sandbox
// supplier, for the stock's concurrency guarantees.
type pgStockWorld struct {
	db       *sqlx.DB
	app      application.App
	orders   *postgres.Orders
	stock    *legacyHashes
	supplier *sandbox.Supplier
	mail     *mailbox
	clock    *testkit.Clock
	tx       *rollbackRacingTx
}

// newPGStockWorld builds the world; change alters the application's ports
// (another blob store, say) before it is wired.
func newPGStockWorld(t *testing.T, change ...func(*application.Deps)) *pgStockWorld {
	t.Helper()
	db := pgtest.NewDB(t)
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	w := &pgStockWorld{db: db, orders: postgres.NewOrders(db, postgres.NoOutbox{}), supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}),
		stock: &legacyHashes{Stock: postgres.NewStock(db), of: map[domain.StockKeyID][]byte{}}, mail: &mailbox{},
		clock: testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)), tx: &rollbackRacingTx{Transactor: postgres.NewTransactor(db)}}
	audit := postgres.NewAuditLog(db, w.clock, application.NewAuditKey(kr, postgres.NewDataKeys(db)), slog.New(slog.DiscardHandler))
	if err := audit.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	pgLinks := postgres.NewCustomerLinks(db, postgres.NoOutbox{})
	deps := application.Deps{
		Orders: w.orders, Links: postgres.NewLinks(db), CustomerLinks: pgLinks, AccessRequests: pgLinks, Claims: postgres.NewClaims(db), Revelations: postgres.NewRevelations(db), Catalog: postgres.NewCatalog(db),
		Offers: postgres.NewOffers(db),
		Stock:  w.stock, Notifications: postgres.NewNotifications(db), DataKeys: postgres.NewDataKeys(db),
		Blobs: postgres.NewBlobs(db), Audit: audit, AdminKeys: postgres.NewAdminKeys(db),
		Locks: postgres.NewLocks(db), Tx: w.tx, Vault: kr,
		SyncRuns: postgres.NewSyncRuns(db), PricingRules: postgres.NewPricingRules(db),
		IdempotencyKeys: postgres.NewIdempotencyKeys(db), DeadLetters: postgres.NewDeadLetters(db), Requeue: &requeueRecorder{},
		Suppliers: ports.Suppliers{{Supplier: w.supplier, Hooks: kinguin.NewWebhookVerifier(testWebhookSecret)}}, SupplierMarks: postgres.NewSupplierEventMarks(db),
		Gateway: sandbox.NewGateway(sandbox.GatewayConfig{}), Verifier: nowpayments.NewVerifier("test-ipn-secret"),
		Mailer: w.mail, Clock: w.clock, IDs: &uuidIDs{}, Log: slog.New(slog.DiscardHandler),
	}
	for _, c := range change {
		c(&deps)
	}
	w.app = application.NewApp(deps, application.Settings{CatalogMargin: decimal.RequireFromString("0.1"), TokenSecret: []byte("test-token-secret-0123456789"),
		Delivery: application.DeliveryPolicy{TTL: 15 * time.Minute, MaxReveals: 3, PublicBaseURL: "https://keys.example"}})
	if _, err := w.app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{}); err != nil {
		t.Fatal(err)
	}
	return w
}

// uuidIDs are unique across the parallel goroutines of a test.
type uuidIDs struct{ ids }

func (u *uuidIDs) NewID() string { return fmt.Sprintf("%08d-0000-7000-8000-000000000000", u.n.Add(1)) }

// orderPaidAndFulfilled places, pays and fulfils one order of sku; it
// returns the place error (an out-of-stock refusal) as is.
func (w *pgStockWorld) orderPaidAndFulfilled(t *testing.T, sku string) (string, error) {
	id, err := w.orderPaid(t, sku)
	if err != nil {
		return "", err
	}
	if err := w.app.Commands.FulfilOrder.Handle(t.Context(), id); err != nil {
		return "", fmt.Errorf("fulfil: %w", err)
	}
	return id, nil
}

// orderPaid places and pays one order of sku; it returns the place error
// (an out-of-stock refusal) as is.
func (w *pgStockWorld) orderPaid(t *testing.T, sku string) (string, error) {
	placed, err := w.app.Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com",
		Lines: []application.PlaceOrderLine{{SKU: sku, Quantity: 1}}})
	if err != nil {
		return "", err
	}
	p := placed.Order.Payment()
	if _, err := w.orders.Update(t.Context(), placed.Order.ID(), func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	}); err != nil {
		return "", fmt.Errorf("pay: %w", err)
	}
	return placed.Order.ID(), nil
}

// stockProduct is a catalog product the sandbox has at least 60 of, set to
// m, with three keys in our stock.
func (w *pgStockWorld) stockProduct(t *testing.T, m domain.Sourcing) string {
	t.Helper()
	ps, err := w.app.Queries.ListProducts.Handle(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps.Items {
		if p.Stock() < 60 {
			continue
		}
		if err := w.app.Commands.SetSourcing.Handle(t.Context(), p.SKU(), m, "admin:test"); err != nil {
			t.Fatal(err)
		}
		res, err := w.app.Commands.ImportStock.Handle(t.Context(), application.ImportStockCommand{SKU: p.SKU(), Actor: "admin:test",
			Keys: textKeys("PG-STOCK-1", "PG-STOCK-2", "PG-STOCK-3")})
		if err != nil || res.Added != 3 {
			t.Fatalf("import = %+v, %v", res, err)
		}
		return p.SKU()
	}
	t.Fatal("no sandbox product with 60 keys")
	return ""
}

// fiftyOrders runs 50 orders of sku at once and returns the ids of those
// placed, and how many were refused as out of stock.
func (w *pgStockWorld) fiftyOrders(t *testing.T, sku string) (placed []string, refused int) {
	t.Helper()
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for range 50 {
		wg.Go(func() {
			id, err := w.orderPaidAndFulfilled(t, sku)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, domain.ErrOutOfStock):
				refused++
			case err != nil:
				t.Errorf("order: %v", err)
			default:
				placed = append(placed, id)
			}
		})
	}
	wg.Wait()
	return placed, refused
}

// assertNoKeyTwice checks in the database that three keys were assigned,
// each to its own item, and that the order items sealed from stock are
// exactly those items.
func (w *pgStockWorld) assertNoKeyTwice(t *testing.T, sku string) (stockItems map[string]bool) {
	t.Helper()
	var rows []struct {
		ItemID string `db:"item_id"`
		N      int    `db:"n"`
	}
	if err := w.db.SelectContext(t.Context(), &rows, `SELECT item_id, count(*) AS n FROM stock_keys
		WHERE sku = $1 AND status = 'assigned' GROUP BY item_id`, sku); err != nil {
		t.Fatal(err)
	}
	stockItems = map[string]bool{}
	for _, r := range rows {
		if r.N != 1 {
			t.Errorf("item %s got %d stock keys, want 1", r.ItemID, r.N)
		}
		stockItems[r.ItemID] = true
	}
	if len(stockItems) != 3 {
		t.Fatalf("%d items got stock keys, want 3", len(stockItems))
	}
	var left int
	if err := w.db.GetContext(t.Context(), &left, `SELECT count(*) FROM stock_keys WHERE sku = $1 AND (status <> 'assigned' OR sealed IS NOT NULL)`, sku); err != nil || left != 0 {
		t.Fatalf("%d stock keys not assigned or still holding ciphertext (%v)", left, err)
	}
	return stockItems
}

// TestFiftyConcurrentOrdersStockThenSupplier: with three keys in stock,
// exactly three of fifty concurrent orders get one, the others are bought
// from the supplier, and no key goes to two orders.
func TestFiftyConcurrentOrdersStockThenSupplier(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	sku := w.stockProduct(t, domain.SourcingStockThenSupplier)
	placed, refused := w.fiftyOrders(t, sku)
	if len(placed) != 50 || refused != 0 {
		t.Fatalf("%d placed, %d refused; want all 50 placed", len(placed), refused)
	}
	stockItems := w.assertNoKeyTwice(t, sku)
	fromStock := 0
	for _, id := range placed {
		o, err := w.orders.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status() != domain.StatusDelivered {
			t.Fatalf("order %s is %s, want delivered", id, o.Status())
		}
		it := o.Items()[0]
		switch {
		case stockItems[it.ID()]:
			fromStock++
			if w.supplier.PurchaseCount(it.ID()) != 0 {
				t.Errorf("item %s got a stock key and was bought too", it.ID())
			}
		case w.supplier.PurchaseCount(it.ID()) != 1:
			t.Errorf("item %s neither from stock nor bought once", it.ID())
		}
	}
	if fromStock != 3 || w.supplier.TotalPurchases() != 47 {
		t.Fatalf("%d orders from stock and %d purchases; want 3 and 47", fromStock, w.supplier.TotalPurchases())
	}
}

// TestFiftyConcurrentOrdersStockOnly: with three keys and stock_only, three
// orders are fulfilled and the others are refused or held, never oversold.
func TestFiftyConcurrentOrdersStockOnly(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	sku := w.stockProduct(t, domain.SourcingStockOnly)
	placed, refused := w.fiftyOrders(t, sku)
	if len(placed)+refused != 50 {
		t.Fatalf("%d placed and %d refused, want 50 in all", len(placed), refused)
	}
	stockItems := w.assertNoKeyTwice(t, sku)
	fulfilled := 0
	for _, id := range placed {
		o, err := w.orders.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		switch o.Status() {
		case domain.StatusDelivered:
			fulfilled++
			if !stockItems[o.Items()[0].ID()] {
				t.Errorf("order %s fulfilled without a stock key", id)
			}
		case domain.StatusNeedsReview:
		default:
			t.Errorf("order %s is %s, want delivered or needs_review", id, o.Status())
		}
	}
	if fulfilled != 3 || w.supplier.TotalPurchases() != 0 {
		t.Fatalf("%d fulfilled and %d purchases; want 3 and 0", fulfilled, w.supplier.TotalPurchases())
	}
	if _, err := w.orderPaidAndFulfilled(t, sku); !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("an order after the stock ran out = %v, want ErrOutOfStock", err)
	}
}
