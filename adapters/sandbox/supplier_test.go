package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/png"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

const steamGame = "elden-ring-steam-global"

// buy returns a valid request for qty keys of productID at its current cost.
func buy(t *testing.T, s *Supplier, productID, externalID string, qty int) ports.PurchaseRequest {
	t.Helper()
	ps, err := allProducts(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.ID == productID {
			return ports.PurchaseRequest{ExternalID: externalID, ProductID: productID, Qty: qty, Price: p.Cost}
		}
	}
	t.Fatalf("product %s not in the catalog", productID)
	return ports.PurchaseRequest{}
}

func mustPlace(t *testing.T, s *Supplier, r ports.PurchaseRequest) ports.SupplierOrder {
	t.Helper()
	o, err := s.PlaceOrder(context.Background(), r)
	if err != nil {
		t.Fatalf("PlaceOrder(%+v): %v", r, err)
	}
	return o
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	ps, err := allProducts(NewSupplier(SupplierConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) < 10 {
		t.Fatalf("catalog has %d products, want at least 10", len(ps))
	}
	slug := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen, platforms, outOfStock := map[string]bool{}, map[string]bool{}, 0
	for _, p := range ps {
		if seen[p.ID] {
			t.Errorf("duplicate product id %s", p.ID)
		}
		seen[p.ID] = true
		platforms[p.Platform] = true
		if !slug.MatchString(p.ID) || len(p.ID) > 64 {
			t.Errorf("id %q is not a slug usable as a SKU", p.ID)
		}
		if p.Name == "" || p.Region == "" || p.Cost.Currency() != domain.EUR || !p.Cost.Amount().IsPositive() {
			t.Errorf("product %+v lacks a name, region or EUR cost", p)
		}
		if p.Qty == 0 {
			outOfStock++
		}
	}
	if outOfStock != 1 {
		t.Errorf("%d products out of stock, want 1", outOfStock)
	}
	if len(platforms) < 6 {
		t.Errorf("only %d platforms: %v", len(platforms), platforms)
	}
}

func TestGlyphsCoverKeyAlphabet(t *testing.T) {
	t.Parallel()
	for _, r := range keyAlphabet + "-" {
		g, ok := glyphs[r]
		if !ok {
			t.Errorf("no glyph for %q", r)
		}
		for _, row := range g {
			if len(row) != glyphWidth {
				t.Errorf("glyph %q has a row %q of width %d", r, row, len(row))
			}
		}
	}
}

func TestKeyFormats(t *testing.T) {
	t.Parallel()
	// Released yesterday: the pre-order's keys are out too.
	s := NewSupplier(SupplierConfig{PreorderRelease: time.Now().AddDate(0, 0, -1)})
	ps, _ := allProducts(s)
	textKey := regexp.MustCompile(`^[A-Z2-9]+(-[A-Z2-9]+)*$`)
	images := 0
	for _, p := range ps {
		if p.Qty < 2 {
			continue
		}
		o := mustPlace(t, s, buy(t, s, p.ID, "item-"+p.ID, 2))
		keys, err := s.Keys(context.Background(), o.ID)
		if err != nil || len(keys) != 2 {
			t.Fatalf("Keys(%s) = %d keys, %v", p.ID, len(keys), err)
		}
		switch keys[0].ContentType {
		case "image/png":
			images++
			for _, k := range keys {
				img, format, err := image.Decode(bytes.NewReader(k.Data))
				if err != nil || format != "png" || img.Bounds().Dx() < 100 {
					t.Errorf("%s: image key does not decode as a PNG: %v", p.ID, err)
				}
			}
			if bytes.Equal(keys[0].Data, keys[1].Data) {
				t.Errorf("%s: two image keys are the same picture", p.ID)
			}
		case "text/plain":
			for _, k := range keys {
				if !textKey.Match(k.Data) {
					t.Errorf("%s: key %q is not shaped like a key", p.ID, k.Data)
				}
			}
		default:
			t.Errorf("%s: content type %q", p.ID, keys[0].ContentType)
		}
	}
	if images != 1 {
		t.Errorf("%d products deliver image keys, want 1", images)
	}
}

func TestKeysAreDeterministic(t *testing.T) {
	t.Parallel()
	issue := func(seed int64, externalID string) []ports.SupplierKey {
		s := NewSupplier(SupplierConfig{Seed: seed})
		mustPlace(t, s, buy(t, s, steamGame, externalID, 3))
		return s.IssuedKeys(externalID)
	}
	tests := []struct {
		name      string
		seedA     int64
		idA       string
		seedB     int64
		idB       string
		wantEqual bool
	}{
		{"same seed and external id", 7, "item-1", 7, "item-1", true},
		{"other external id", 7, "item-1", 7, "item-2", false},
		{"other seed", 7, "item-1", 8, "item-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := issue(tt.seedA, tt.idA), issue(tt.seedB, tt.idB)
			for slot := range a {
				if got := bytes.Equal(a[slot].Data, b[slot].Data); got != tt.wantEqual {
					t.Errorf("slot %d: %q vs %q, equal = %v, want %v", slot, a[slot].Data, b[slot].Data, got, tt.wantEqual)
				}
			}
			if bytes.Equal(a[0].Data, a[1].Data) {
				t.Errorf("slots 0 and 1 share the key %q", a[0].Data)
			}
		})
	}
}

func TestPlaceOrderIsIdempotentUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := NewSupplier(SupplierConfig{Latency: time.Millisecond})
	r := buy(t, s, steamGame, "item-concurrent", 2)
	before, _ := allProducts(s)

	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Go(func() { ids[i] = mustPlace(t, s, r).ID })
	}
	wg.Wait()

	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("order ids differ: %s and %s", ids[0], id)
		}
	}
	if n := s.PurchaseCount(r.ExternalID); n != 1 {
		t.Errorf("PurchaseCount = %d, want 1", n)
	}
	if n := s.TotalPurchases(); n != 1 {
		t.Errorf("TotalPurchases = %d, want 1", n)
	}
	after, _ := allProducts(s)
	for i := range after {
		if after[i].ID == steamGame && after[i].Qty != before[i].Qty-2 {
			t.Errorf("stock went from %d to %d, want one purchase of 2", before[i].Qty, after[i].Qty)
		}
	}
	if o, err := s.FindOrder(context.Background(), r.ExternalID); err != nil || o.ID != ids[0] || o.Status != "completed" {
		t.Errorf("FindOrder = %+v, %v", o, err)
	}
}

func TestPlaceOrderRefusesPermanently(t *testing.T) {
	t.Parallel()
	s := NewSupplier(SupplierConfig{})
	valid := buy(t, s, steamGame, "", 1)
	outOfStock := buy(t, s, "red-dead-redemption-2-rockstar-eu", "", 1)
	tests := []struct {
		name   string
		change func(r *ports.PurchaseRequest)
	}{
		{"unknown product", func(r *ports.PurchaseRequest) { r.ProductID = "half-life-3-steam-global" }},
		{"qty 0", func(r *ports.PurchaseRequest) { r.Qty = 0 }},
		{"qty 11", func(r *ports.PurchaseRequest) { r.Qty = 11 }},
		{"max price below the cost", func(r *ports.PurchaseRequest) { r.Price = domain.MustMoney("29.99", "EUR") }},
		{"price in another currency", func(r *ports.PurchaseRequest) { r.Price = domain.MustMoney(r.Price.String(), "USD") }},
		{"out of stock", func(r *ports.PurchaseRequest) { r.ProductID, r.Price = outOfStock.ProductID, outOfStock.Price }},
		{"no external id", func(r *ports.PurchaseRequest) { r.ExternalID = "" }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := valid
			r.ExternalID = fmt.Sprintf("item-refused-%d", i)
			tt.change(&r)
			_, err := s.PlaceOrder(context.Background(), r)
			if !errors.Is(err, ports.ErrSupplierPermanent) {
				t.Fatalf("PlaceOrder = %v, want ErrSupplierPermanent", err)
			}
			if _, err := s.FindOrder(context.Background(), r.ExternalID); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("a refused order exists: %v", err)
			}
		})
	}
}

func TestFailureRateOneFailsTemporarily(t *testing.T) {
	t.Parallel()
	reliable := NewSupplier(SupplierConfig{})
	o := mustPlace(t, reliable, buy(t, reliable, steamGame, "item-1", 1))

	flaky := NewSupplier(SupplierConfig{FailureRate: 1})
	_, placeErr := flaky.PlaceOrder(context.Background(), buy(t, flaky, steamGame, "item-1", 1))
	_, keysErr := flaky.Keys(context.Background(), o.ID)
	for name, err := range map[string]error{"PlaceOrder": placeErr, "Keys": keysErr} {
		if !errors.Is(err, ports.ErrSupplierTemporary) {
			t.Errorf("%s = %v, want ErrSupplierTemporary", name, err)
		}
	}
	if n := flaky.TotalPurchases(); n != 0 {
		t.Errorf("a failed call bought %d times", n)
	}
}

func TestKeysReturnsFreshCopies(t *testing.T) {
	t.Parallel()
	s := NewSupplier(SupplierConfig{})
	o := mustPlace(t, s, buy(t, s, steamGame, "item-1", 1))
	first, err := s.Keys(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := string(first[0].Data)
	clear(first[0].Data) // what the fulfilment worker does after sealing

	second, _ := s.Keys(context.Background(), o.ID)
	if string(second[0].Data) != want {
		t.Errorf("after zeroing the first copy Keys returns %q, want %q", second[0].Data, want)
	}
	if issued := s.IssuedKeys("item-1"); string(issued[0].Data) != want {
		t.Errorf("IssuedKeys = %q, want %q", issued[0].Data, want)
	}
}

func TestUnknownOrdersAreNotFound(t *testing.T) {
	t.Parallel()
	s := NewSupplier(SupplierConfig{})
	if _, err := s.FindOrder(context.Background(), "item-never-bought"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("FindOrder = %v, want ErrNotFound", err)
	}
	if _, err := s.Keys(context.Background(), "NOSUCHORDER"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Keys = %v, want ErrNotFound", err)
	}
	if keys := s.IssuedKeys("item-never-bought"); keys != nil {
		t.Errorf("IssuedKeys = %v, want nil", keys)
	}
}

func TestKeysPendingUntilKeyDelay(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewSupplier(SupplierConfig{Clock: clock, KeyDelay: time.Minute})

	o := mustPlace(t, s, buy(t, s, steamGame, "item-1", 1))
	if o.Status != ports.PurchasePending {
		t.Errorf("status = %q, want pending", o.Status)
	}
	if _, err := s.Keys(context.Background(), o.ID); !errors.Is(err, ports.ErrKeysPending) {
		t.Errorf("Keys = %v, want ErrKeysPending", err)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if keys, err := s.Keys(context.Background(), o.ID); err != nil || len(keys) != 1 {
		t.Errorf("Keys after the delay = %d keys, %v", len(keys), err)
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	t.Parallel()
	s := NewSupplier(SupplierConfig{Latency: 30 * time.Second})
	r := ports.PurchaseRequest{ExternalID: "item-1", ProductID: steamGame, Qty: 1, Price: domain.MustMoney("32.99", "EUR")}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := s.PlaceOrder(ctx, r)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PlaceOrder = %v, want the context's error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Errorf("PlaceOrder returned after %v, not at cancellation", waited)
	}
	if s.TotalPurchases() != 0 {
		t.Error("a cancelled call bought keys")
	}
}

// allProducts walks every page of the catalog.
func allProducts(s *Supplier) ([]ports.SupplierProduct, error) {
	var out []ports.SupplierProduct
	q := ports.ProductQuery{Limit: 5}
	for {
		page, err := s.Products(context.Background(), q)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Products...)
		if page.Next == "" {
			return out, nil
		}
		q.Cursor = page.Next
	}
}

// TestSupplierContract runs the ports.Supplier contract: the sandbox
// behaves as the real supplier does.
func TestSupplierContract(t *testing.T) {
	porttest.Supplier(t, func(t *testing.T) porttest.SupplierFixture {
		// Two hours ahead at every reading (orders deliver at once under
		// the one-hour KeyDelay) until the keys are held; then only
		// Deliver moves it.
		clock := testkit.NewSteppingClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 2*time.Hour)
		s := NewSupplier(SupplierConfig{Clock: clock.Now, KeyDelay: time.Hour})
		return porttest.SupplierFixture{
			Supplier:  s,
			HoldKeys:  func() { clock.SetStep(0) },
			Deliver:   func(string) { clock.SetStep(0); clock.Advance(2 * time.Hour) },
			Purchases: s.PurchaseCount,
		}
	})
}

func TestStockScaleMultipliesEveryProductsStock(t *testing.T) {
	t.Parallel()
	listed, scaled := NewSupplier(SupplierConfig{}), NewSupplier(SupplierConfig{StockScale: 3})
	for _, e := range catalog() {
		a, err := listed.Product(t.Context(), e.product.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := scaled.Product(t.Context(), e.product.ID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Qty != e.product.Qty || b.Qty != 3*e.product.Qty {
			t.Errorf("%s: stock %d and %d scaled by 3, want %d and %d", e.product.ID, a.Qty, b.Qty, e.product.Qty, 3*e.product.Qty)
		}
	}
}

// TestPreorderWaitsForItsRelease: the sandbox's pre-order is listed with
// its release day; its keys are refused as a pre-order's (with that day)
// until the day comes, then delivered.
func TestPreorderWaitsForItsRelease(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	release := time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)
	s := NewSupplier(SupplierConfig{Clock: func() time.Time { return now }, PreorderRelease: release.Add(15 * time.Hour)})
	p, err := s.Product(context.Background(), PreorderProductID)
	if err != nil || !p.Preorder || !p.ReleaseDate.Equal(release) {
		t.Fatalf("pre-order listed as %+v, %v", p, err)
	}
	o := mustPlace(t, s, buy(t, s, PreorderProductID, "item-pre", 1))
	if o.Status != ports.PurchasePending {
		t.Errorf("status before the release %s", o.Status)
	}
	_, err = s.Keys(context.Background(), o.ID)
	if got, ok := ports.ReleaseDateOf(err); !ok || !got.Equal(release) || !errors.Is(err, ports.ErrKeysPending) {
		t.Fatalf("keys before the release: %v (release %v %v)", err, got, ok)
	}
	now = release
	keys, err := s.Keys(context.Background(), o.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys on release day: %d, %v", len(keys), err)
	}
}
