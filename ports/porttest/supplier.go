package porttest

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SupplierFixture is one supplier under test with the controls the
// contract needs.
type SupplierFixture struct {
	Supplier ports.Supplier
	// HoldKeys makes orders placed from now on wait for Deliver before
	// their keys are out.
	HoldKeys func()
	// Deliver delivers every key of a held order.
	Deliver func(supplierOrderID string)
	// Purchases counts the orders created for an external id.
	Purchases func(externalID string) int
}

// Supplier runs the ports.Supplier contract. newFixture is called once per
// subtest, from parallel subtests, and must return a supplier with at least
// two products in stock, whose orders deliver at once until HoldKeys.
func Supplier(t *testing.T, newFixture func(t *testing.T) SupplierFixture) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, SupplierFixture)
	}{
		{"products page through the whole catalog once", testSupplierPaging},
		{"a listed product reads alone, an unknown one is not found", testSupplierProduct},
		{"an order delivers one key per unit", testSupplierOrder},
		{"one external id buys once", testSupplierOrderOnce},
		{"orders are found by external id and by id", testSupplierFind},
		{"keys are pending until delivered", testSupplierKeysPending},
		{"a price below the cost is refused for good", testSupplierPriceRefused},
		{"the supplier is healthy", testSupplierHealth},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newFixture(t))
		})
	}
}

// allProducts pages through the catalog, two products a page.
func allProducts(t *testing.T, s ports.Supplier) []ports.SupplierProduct {
	t.Helper()
	var out []ports.SupplierProduct
	q := ports.ProductQuery{Limit: 2}
	for range 1000 {
		page, err := s.Products(t.Context(), q)
		if err != nil {
			t.Fatalf("Products(%+v): %v", q, err)
		}
		if len(page.Products) > 2 {
			t.Fatalf("Products(limit 2) returned %d", len(page.Products))
		}
		out = append(out, page.Products...)
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
	t.Fatal("Products never returned a last page")
	return nil
}

// inStock returns a product with at least qty keys.
func inStock(t *testing.T, s ports.Supplier, qty int) ports.SupplierProduct {
	t.Helper()
	for _, p := range allProducts(t, s) {
		if p.Qty >= qty {
			return p
		}
	}
	t.Fatalf("no product has %d keys in stock", qty)
	return ports.SupplierProduct{}
}

func purchase(t *testing.T, s ports.Supplier, p ports.SupplierProduct, qty int) (string, ports.SupplierOrder) {
	t.Helper()
	ext := uuid.NewString()
	o, err := s.PlaceOrder(t.Context(), ports.PurchaseRequest{ExternalID: ext, ProductID: p.ID, Qty: qty, Price: p.Cost})
	if err != nil {
		t.Fatalf("PlaceOrder(%s x%d at %s): %v", p.ID, qty, p.Cost, err)
	}
	if o.ID == "" || o.ExternalID != ext {
		t.Fatalf("PlaceOrder = %+v, want an id and external id %s", o, ext)
	}
	return ext, o
}

func testSupplierPaging(t *testing.T, f SupplierFixture) {
	ps := allProducts(t, f.Supplier)
	if len(ps) < 2 {
		t.Fatalf("%d products, want at least 2", len(ps))
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.ID] {
			t.Errorf("product %s listed twice", p.ID)
		}
		seen[p.ID] = true
		if p.ID == "" || p.Name == "" || p.Cost.Amount().Sign() <= 0 || p.Cost.Currency().IsZero() || p.Qty < 0 {
			t.Errorf("product %+v lacks an id, a name, a cost or a stock", p)
		}
	}
	if _, err := f.Supplier.Products(t.Context(), ports.ProductQuery{Cursor: "not-a-cursor"}); !errors.Is(err, ports.ErrSupplierPermanent) {
		t.Errorf("Products with a foreign cursor = %v, want ErrSupplierPermanent", err)
	}
}

func testSupplierProduct(t *testing.T, f SupplierFixture) {
	p := inStock(t, f.Supplier, 1)
	got, err := f.Supplier.Product(t.Context(), p.ID)
	if err != nil {
		t.Fatalf("Product(%s): %v", p.ID, err)
	}
	if got.ID != p.ID || got.Name != p.Name || !got.Cost.Equal(p.Cost) {
		t.Errorf("Product(%s) = %+v, listed as %+v", p.ID, got, p)
	}
	if _, err := f.Supplier.Product(t.Context(), "no-such-product"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Product(unknown) = %v, want domain.ErrNotFound", err)
	}
}

func testSupplierOrder(t *testing.T, f SupplierFixture) {
	p := inStock(t, f.Supplier, 2)
	_, o := purchase(t, f.Supplier, p, 2)
	keys := waitKeys(t, f.Supplier, o.ID)
	if len(keys) != 2 {
		t.Fatalf("%d keys for 2 units", len(keys))
	}
	if string(keys[0].Data) == string(keys[1].Data) {
		t.Error("both keys are the same")
	}
	for i, k := range keys {
		if k.ContentType == "" || len(k.Data) == 0 {
			t.Errorf("key %d has no content type or data", i)
		}
	}
	got, err := f.Supplier.Order(t.Context(), o.ID)
	if err != nil || got.ID != o.ID || got.Status != ports.PurchaseCompleted {
		t.Errorf("Order(%s) = %+v, %v; want it completed", o.ID, got, err)
	}
	after, err := f.Supplier.Product(t.Context(), p.ID)
	if err != nil || after.Qty != p.Qty-2 {
		t.Errorf("stock after buying 2 of %d: %d (%v)", p.Qty, after.Qty, err)
	}
}

func waitKeys(t *testing.T, s ports.Supplier, orderID string) []ports.SupplierKey {
	t.Helper()
	keys, err := s.Keys(t.Context(), orderID)
	if err != nil {
		t.Fatalf("Keys(%s): %v", orderID, err)
	}
	return keys
}

func testSupplierOrderOnce(t *testing.T, f SupplierFixture) {
	p := inStock(t, f.Supplier, 1)
	ext, first := purchase(t, f.Supplier, p, 1)
	again, err := f.Supplier.PlaceOrder(t.Context(), ports.PurchaseRequest{ExternalID: ext, ProductID: p.ID, Qty: 1, Price: p.Cost})
	if err != nil {
		t.Fatalf("PlaceOrder again: %v", err)
	}
	if again.ID != first.ID {
		t.Errorf("second PlaceOrder for %s made order %s, first was %s", ext, again.ID, first.ID)
	}
	if n := f.Purchases(ext); n != 1 {
		t.Errorf("%d purchases for one external id", n)
	}
}

func testSupplierFind(t *testing.T, f SupplierFixture) {
	p := inStock(t, f.Supplier, 1)
	ext, o := purchase(t, f.Supplier, p, 1)
	got, err := f.Supplier.FindOrder(t.Context(), ext)
	if err != nil || got.ID != o.ID || got.ExternalID != ext {
		t.Errorf("FindOrder(%s) = %+v, %v; want %s", ext, got, err, o.ID)
	}
	if _, err := f.Supplier.FindOrder(t.Context(), uuid.NewString()); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("FindOrder(unknown) = %v, want domain.ErrNotFound", err)
	}
	if _, err := f.Supplier.Order(t.Context(), "NOSUCHORDER"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Order(unknown) = %v, want domain.ErrNotFound", err)
	}
}

func testSupplierKeysPending(t *testing.T, f SupplierFixture) {
	f.HoldKeys()
	p := inStock(t, f.Supplier, 2)
	_, o := purchase(t, f.Supplier, p, 2)
	if _, err := f.Supplier.Keys(t.Context(), o.ID); !errors.Is(err, ports.ErrKeysPending) {
		t.Fatalf("Keys of a held order = %v, want ErrKeysPending", err)
	}
	if got, err := f.Supplier.Order(t.Context(), o.ID); err != nil || got.Status != ports.PurchasePending {
		t.Errorf("Order of a held order = %+v, %v; want processing", got, err)
	}
	f.Deliver(o.ID)
	if keys := waitKeys(t, f.Supplier, o.ID); len(keys) != 2 {
		t.Errorf("%d keys after delivery, want 2", len(keys))
	}
}

func testSupplierPriceRefused(t *testing.T, f SupplierFixture) {
	p := inStock(t, f.Supplier, 1)
	low, err := domain.MoneyFromDecimal(p.Cost.Amount().Div(domain.MustMoney("2", "EUR").Amount()).Round(2), p.Cost.Currency())
	if err != nil {
		t.Fatal(err)
	}
	ext := uuid.NewString()
	_, err = f.Supplier.PlaceOrder(t.Context(), ports.PurchaseRequest{ExternalID: ext, ProductID: p.ID, Qty: 1, Price: low})
	if !errors.Is(err, ports.ErrSupplierPermanent) {
		t.Fatalf("PlaceOrder at half the cost = %v, want ErrSupplierPermanent", err)
	}
	if n := f.Purchases(ext); n != 0 {
		t.Errorf("%d purchases after a refusal", n)
	}
}

func testSupplierHealth(t *testing.T, f SupplierFixture) {
	if err := f.Supplier.Health(t.Context()); err != nil {
		t.Errorf("Health: %v", err)
	}
	if f.Supplier.Name() == "" {
		t.Error("Name is empty")
	}
}
