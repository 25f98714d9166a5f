package application_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// stockedProduct is a sandbox product of the world's catalog whose sourcing
// is set to m, with keys imported into its own stock.
func stockedProduct(t *testing.T, w *world, m domain.Sourcing, keys ...string) *domain.Product {
	t.Helper()
	ps, err := w.catalog.List(t.Context(), "", 1)
	if err != nil || len(ps) == 0 {
		t.Fatalf("catalog: %v", err)
	}
	p := ps[0]
	if err := w.app().Commands.SetSourcing.Handle(t.Context(), p.SKU(), m, "admin:test"); err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		importKeys(t, w, p.SKU(), len(keys), 0, keys...)
	}
	return p
}

func textKeys(keys ...string) []application.StockKeyInput {
	in := make([]application.StockKeyInput, len(keys))
	for i, k := range keys {
		in[i] = application.StockKeyInput{ContentType: "text/plain", Data: []byte(k)}
	}
	return in
}

func importKeys(t *testing.T, w *world, sku string, added, dups int, keys ...string) {
	t.Helper()
	res, err := w.app().Commands.ImportStock.Handle(t.Context(), application.ImportStockCommand{SKU: sku, Keys: textKeys(keys...), Actor: "admin:test"})
	if err != nil || res.Added != added || res.Duplicates != dups {
		t.Fatalf("import = %+v, %v; want %d added and %d duplicates", res, err, added, dups)
	}
}

func placePaid(t *testing.T, w *world, sku string) (*domain.Order, error) {
	t.Helper()
	placed, err := w.app().Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com",
		Lines: []application.PlaceOrderLine{{SKU: sku, Quantity: 1}}})
	if err != nil {
		return nil, err
	}
	o, p := placed.Order, placed.Order.Payment()
	w.update(t, o.ID(), func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	})
	return o, nil
}

// TestImportDeduplicates: importing the same keys twice adds nothing the
// second time, a key sold is refused as a duplicate, and no plaintext (nor
// a plain hash of it) is stored.
func TestImportDeduplicates(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockOnly)
	importKeys(t, w, p.SKU(), 2, 1, "AAAA-1111", "BBBB-2222", " AAAA-1111 ")
	importKeys(t, w, p.SKU(), 0, 2, "AAAA-1111", "BBBB-2222")

	o, err := placePaid(t, w, p.SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if w.status(t, o.ID()) != domain.StatusFulfilled {
		t.Fatalf("order is %s, want fulfilled from stock", w.status(t, o.ID()))
	}
	importKeys(t, w, p.SKU(), 1, 2, "AAAA-1111", "BBBB-2222", "CCCC-3333") // one of the first two is sold
	levels, err := w.app().Queries.ListStock.Handle(t.Context(), p.SKU())
	if err != nil || levels.Counts != (domain.StockCounts{Available: 2, Assigned: 1}) || levels.Sourcing != domain.SourcingStockOnly {
		t.Fatalf("levels = %+v, %v", levels, err)
	}
	if got := w.supplier.TotalPurchases(); got != 0 {
		t.Fatalf("%d supplier purchases for a stock_only product", got)
	}
}

// TestStockKeyReachesTheCustomer: a key taken from stock is re-sealed for
// the order and reveals as imported; the assignment is audited.
func TestStockKeyReachesTheCustomer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockThenSupplier, "STOCK-KEY-0001")
	o, err := placePaid(t, w, p.SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	body := w.mail.sent[len(w.mail.sent)-1].Text
	i := strings.Index(body, "/deliver/")
	rv, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: strings.Fields(body[i+len("/deliver/"):])[0]})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(rv.Items[0].Keys[0].Data); got != "STOCK-KEY-0001" {
		t.Fatalf("revealed %q, want the stocked key", got)
	}
	if w.supplier.TotalPurchases() != 0 {
		t.Fatal("bought from the supplier with a key in stock")
	}
	recs, _ := w.audit.List(t.Context(), 0, 100)
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, application.AuditStockImported) || !strings.Contains(got, application.AuditStockAssigned) {
		t.Fatalf("audit actions %q lack the import and the assignment", got)
	}
}

// TestStockOnlyWithoutKeysIsOutOfStock: a stock_only product with no key
// cannot be ordered and the catalog says so.
func TestStockOnlyWithoutKeysIsOutOfStock(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockOnly)
	if _, err := placePaid(t, w, p.SKU()); !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("place = %v, want ErrOutOfStock", err)
	}
	got, err := w.app().Queries.GetProduct.Handle(t.Context(), p.SKU())
	if err != nil || got.InStock() {
		t.Fatalf("product in stock = %v (%v), want false", got.InStock(), err)
	}
	importKeys(t, w, p.SKU(), 1, 0, "ONLY-ONE")
	if got, _ := w.app().Queries.GetProduct.Handle(t.Context(), p.SKU()); !got.InStock() || got.Stock() != 1 {
		t.Fatalf("after an import: in stock %v, stock %d; want true, 1", got.InStock(), got.Stock())
	}
}

// TestWithdrawnKeyIsNotSold: a withdrawn key leaves the counts' available
// and is never assigned.
func TestWithdrawnKeyIsNotSold(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockOnly, "WITHDRAW-ME")
	ids := w.stock.Available(p.SKU())
	if len(ids) != 1 {
		t.Fatalf("available ids %v", ids)
	}
	withdraw := w.app().Commands.WithdrawStock
	if err := withdraw.Handle(t.Context(), p.SKU(), ids[0], "admin:test"); err != nil {
		t.Fatal(err)
	}
	if err := withdraw.Handle(t.Context(), p.SKU(), ids[0], "admin:test"); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("second withdraw = %v, want ErrInvalidTransition", err)
	}
	if _, err := placePaid(t, w, p.SKU()); !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("place = %v, want ErrOutOfStock", err)
	}
}

// TestPriceGuard: a supplier price above what the order affords stops the
// purchase and says why; a drop within the wait lets it complete; a price
// that stays high holds the order for review after the wait, and an admin
// retry picks it up again.
func TestPriceGuard(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	margin := decimal.RequireFromString("1.50")
	app := w.app(func(_ *application.Deps, s *application.Settings) {
		s.PriceGuard = application.PriceGuard{MinMargin: margin, Wait: 30 * time.Minute}
	})
	p := stockedProduct(t, w, domain.SourcingSupplierOnly)
	supplierID, cost := p.Source().SupplierProductID, p.Source().Cost
	affordable := p.Price().Amount().Sub(margin)
	high := domain.MustMoney(affordable.Add(decimal.RequireFromString("2.30")).StringFixed(2), cost.Currency().String())
	wantReason := "supplier price " + high.String() + " EUR > affordable " + affordable.StringFixed(2) + " EUR"

	// Rise, then a drop within the window: bought at most at affordable.
	o, err := placePaid(t, w, p.SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.supplier.SetCost(supplierID, high); err != nil {
		t.Fatal(err)
	}
	waiting := func(id string) {
		t.Helper()
		if err := app.Commands.FulfilOrder.Handle(t.Context(), id); err != nil {
			t.Fatalf("fulfil at a high price = %v, want nil (the reconciler comes back)", err)
		}
		got, _ := w.orders.Get(t.Context(), id)
		if f := got.Items()[0].Failure(); got.Status() != domain.StatusFulfilling || f == nil || f.Reason != wantReason || !f.Retryable {
			t.Fatalf("order %s, item failure %+v; want fulfilling, retryable %q", got.Status(), f, wantReason)
		}
		last := got.Timeline()[len(got.Timeline())-1]
		if last.Kind() != domain.EventKindItemFailed || last.Value("reason") != wantReason {
			t.Fatalf("timeline ends with %s %v, want the reason", last.Kind(), last.Metadata())
		}
	}
	waiting(o.ID())
	if w.supplier.TotalPurchases() != 0 {
		t.Fatal("bought above the guard")
	}
	w.clock.Advance(10 * time.Minute)
	waiting(o.ID())
	if err := w.supplier.SetCost(supplierID, cost); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(10 * time.Minute)
	if res, err := app.Commands.Reconcile.Handle(t.Context()); err != nil || res.Completed != 1 {
		t.Fatalf("reconcile = %+v, %v; want the waiting order completed", res, err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Fatalf("after the drop the order is %s, want delivered", st)
	}

	// A price that stays high: held for review once the wait is over.
	o2, err := placePaid(t, w, p.SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.supplier.SetCost(supplierID, high); err != nil {
		t.Fatal(err)
	}
	waiting(o2.ID())
	w.clock.Advance(29 * time.Minute)
	waiting(o2.ID())
	w.clock.Advance(2 * time.Minute)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o2.ID()); err != nil {
		t.Fatalf("fulfil after the wait = %v, want nil (held)", err)
	}
	detail, err := app.Queries.OrderDetail.Handle(t.Context(), o2.ID())
	if err != nil {
		t.Fatal(err)
	}
	if detail.Order.Status() != domain.StatusNeedsReview || detail.Order.ReviewReason() != wantReason {
		t.Fatalf("order %s held for %q; want needs_review for %q", detail.Order.Status(), detail.Order.ReviewReason(), wantReason)
	}
	if n := eventsNamed(w, o2.ID(), domain.EventOrderNeedsReview); n != 1 {
		t.Fatalf("%d needs_review events, want 1 (the customer is told once)", n)
	}
	if err := w.supplier.SetCost(supplierID, cost); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.RetryFulfilment.Handle(t.Context(), o2.ID(), "admin:test"); err != nil {
		t.Fatal(err)
	}
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o2.ID()); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, o2.ID()); st != domain.StatusDelivered {
		t.Fatalf("after an admin retry the order is %s, want delivered", st)
	}
}

func eventsNamed(w *world, orderID, name string) int {
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	n := 0
	for _, e := range w.events.events {
		if e.EventName() == name && e.AggregateID() == orderID {
			n++
		}
	}
	return n
}

// TestUnconfiguredSupplierProductSellsOwnStockFirst: keys uploaded for a
// supplier product whose sourcing nobody set are sold before any is bought,
// and bought ones follow once the stock is gone.
func TestUnconfiguredSupplierProductSellsOwnStockFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ps, err := w.catalog.List(t.Context(), "", 1)
	if err != nil || len(ps) == 0 || ps[0].Source().Kind != domain.SourceSupplier {
		t.Fatalf("catalog: %v, %v", ps, err)
	}
	sku := ps[0].SKU()
	importKeys(t, w, sku, 1, 0, "OWN-KEY-0001")
	levels, err := w.app().Queries.ListStock.Handle(t.Context(), sku)
	if err != nil || levels.Sourcing != domain.SourcingStockThenSupplier {
		t.Fatalf("levels = %+v, %v; want stock_then_supplier", levels, err)
	}
	for i, wantPurchases := range []int{0, 1} {
		o, err := placePaid(t, w, sku)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
		if got := w.supplier.TotalPurchases(); got != wantPurchases {
			t.Fatalf("order %d: %d supplier purchases, want %d", i+1, got, wantPurchases)
		}
		// The item records where it was bought: own stock is no supplier.
		got, _ := w.orders.Get(t.Context(), o.ID())
		if from, want := got.Items()[0].BoughtFrom(), []string{"", "sandbox"}[i]; from != want {
			t.Fatalf("order %d: item bought from %q, want %q", i+1, from, want)
		}
	}
	if levels, _ := w.app().Queries.ListStock.Handle(t.Context(), sku); levels.Counts != (domain.StockCounts{Assigned: 1}) {
		t.Fatalf("stock after two orders = %+v, want the one key assigned", levels.Counts)
	}
}
