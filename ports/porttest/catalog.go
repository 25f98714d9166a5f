package porttest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// CatalogRepository runs the ports.CatalogRepository contract. newRepo is
// called once per subtest, from parallel subtests, and must return an
// empty repository.
func CatalogRepository(t *testing.T, newRepo func(t *testing.T) ports.CatalogRepository) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.CatalogRepository)
	}{
		{"upsert then get keeps every field", testCatalogRoundTrip},
		{"upsert replaces by sku", testCatalogReplace},
		{"get of a missing sku is not found", testCatalogMissing},
		{"list pages by sku", testCatalogList},
		{"get many returns those that exist", testCatalogGetMany},
		{"find filters by name, platform and stock, and pages", testCatalogFind},
		{"a pinned price round-trips", testCatalogPinned},
		{"a pre-order's release date changes and goes", testCatalogPreorderChanges},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newRepo(t))
		})
	}
}

func testCatalogRoundTrip(t *testing.T, repo ports.CatalogRepository) {
	supplied := newProduct(t, domain.ProductSnapshot{
		SKU: "sku-supplied", Name: "Game Supplied", Platform: "Steam", Region: "EU", Price: domain.MustMoney("59.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "kinguin", SupplierProductID: "kg-123", Cost: domain.MustMoney("41.07", "EUR")},
		Stock:  12, Active: true, UpdatedAt: suiteT0,
	})
	preorder := newProduct(t, domain.ProductSnapshot{
		SKU: "sku-preorder", Name: "Game Preorder", Platform: "Steam", Region: "GLOBAL", Price: domain.MustMoney("49.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "kinguin", SupplierProductID: "kg-456", Cost: domain.MustMoney("39.99", "EUR")},
		Stock:  500, Active: true, UpdatedAt: suiteT0, Preorder: true, ReleaseDate: time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC),
	})
	// Own stock has no supplier and may have no cost; never updated: zero time.
	own := newProduct(t, domain.ProductSnapshot{
		SKU: "sku-own", Name: "Game Own", Platform: "GOG", Region: "GLOBAL", Price: domain.MustMoney("0.10", "USD"),
		Source: domain.ProductSource{Kind: domain.SourceOwnStock}, Stock: 0, Active: false,
	})
	if err := repo.Upsert(t.Context(), supplied, own, preorder); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	for _, want := range []*domain.Product{supplied, own, preorder} {
		got, err := repo.Get(t.Context(), want.SKU())
		if err != nil {
			t.Fatalf("Get(%s): %v", want.SKU(), err)
		}
		for _, d := range productDiffs(got.Snapshot(), want.Snapshot()) {
			t.Errorf("product %s: %s", want.SKU(), d)
		}
	}
}

func testCatalogReplace(t *testing.T, repo ports.CatalogRepository) {
	v1 := testProduct(t, "sku-a", "19.99", 5)
	if err := repo.Upsert(t.Context(), v1); err != nil {
		t.Fatalf("Upsert v1: %v", err)
	}
	s := v1.Snapshot()
	s.Name, s.Price, s.Stock, s.Active, s.UpdatedAt = "Renamed", domain.MustMoney("14.50", "EUR"), 0, false, suiteT0.Add(time.Hour)
	v2 := newProduct(t, s)
	if err := repo.Upsert(t.Context(), v2); err != nil {
		t.Fatalf("Upsert v2: %v", err)
	}
	got, err := repo.Get(t.Context(), "sku-a")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	for _, d := range productDiffs(got.Snapshot(), v2.Snapshot()) {
		t.Errorf("after replace: %s", d)
	}
	all, err := repo.List(t.Context(), "", 10)
	if err != nil || len(all) != 1 {
		t.Errorf("List after replacing = %d products, %v; want 1", len(all), err)
	}
}

func testCatalogMissing(t *testing.T, repo ports.CatalogRepository) {
	_, err := repo.Get(t.Context(), "sku-nope")
	wantIs(t, err, domain.ErrNotFound, "Get of a missing sku")
}

func testCatalogList(t *testing.T, repo ports.CatalogRepository) {
	var ps []*domain.Product
	for _, sku := range []string{"sku-c", "sku-a", "sku-e", "sku-b", "sku-d"} {
		ps = append(ps, testProduct(t, sku, "9.99", 1))
	}
	if err := repo.Upsert(t.Context(), ps...); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	cases := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"sku-a", "sku-b"}},
		{"sku-b", 2, []string{"sku-c", "sku-d"}},
		{"sku-d", 10, []string{"sku-e"}},
		{"sku-bb", 1, []string{"sku-c"}}, // the cursor need not exist
		{"sku-e", 10, nil},
	}
	for _, c := range cases {
		got, err := repo.List(t.Context(), c.after, c.limit)
		if err != nil {
			t.Fatalf("List(%q, %d): %v", c.after, c.limit, err)
		}
		var skus []string
		for _, p := range got {
			skus = append(skus, p.SKU())
		}
		if !slices.Equal(skus, c.want) {
			t.Errorf("List(%q, %d) = %v, want %v", c.after, c.limit, skus, c.want)
		}
	}
}

// testProduct returns an active supplier product priced in EUR.
func testProduct(t *testing.T, sku, price string, stock int) *domain.Product {
	t.Helper()
	return newProduct(t, domain.ProductSnapshot{
		SKU: sku, Name: "Game " + sku, Platform: "Steam", Region: "GLOBAL", Price: domain.MustMoney(price, "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: "sp-" + sku, Cost: domain.MustMoney("1.23", "EUR")},
		Stock:  stock, Active: true, UpdatedAt: suiteT0,
	})
}

func newProduct(t *testing.T, s domain.ProductSnapshot) *domain.Product {
	t.Helper()
	p, err := domain.NewProduct(s)
	if err != nil {
		t.Fatalf("NewProduct(%s): %v", s.SKU, err)
	}
	return p
}

// productDiffs lists how got differs from want.
func productDiffs(got, want domain.ProductSnapshot) []string {
	var d diffs
	d.add("sku", got.SKU, want.SKU, got.SKU == want.SKU)
	d.add("name", got.Name, want.Name, got.Name == want.Name)
	d.add("platform", got.Platform, want.Platform, got.Platform == want.Platform)
	d.add("region", got.Region, want.Region, got.Region == want.Region)
	d.money("price", got.Price, want.Price)
	d.source("source", got.Source, want.Source)
	d.add("stock", got.Stock, want.Stock, got.Stock == want.Stock)
	d.add("active", got.Active, want.Active, got.Active == want.Active)
	d.time("updated at", got.UpdatedAt, want.UpdatedAt)
	d.add("price pinned", got.PricePinned, want.PricePinned, got.PricePinned == want.PricePinned)
	d.add("preorder", got.Preorder, want.Preorder, got.Preorder == want.Preorder)
	d.add("release date", got.ReleaseDate, want.ReleaseDate, got.ReleaseDate.Equal(want.ReleaseDate) && got.ReleaseDate.IsZero() == want.ReleaseDate.IsZero())
	return d
}

// diffs collects field mismatches as readable lines.
type diffs []string

func (d *diffs) add(field string, got, want any, ok bool) {
	if !ok {
		*d = append(*d, fmt.Sprintf("%s = %v, want %v", field, got, want))
	}
}

func (d *diffs) money(field string, got, want domain.Money) {
	d.add(field, got.String()+" "+got.Currency().String(), want.String()+" "+want.Currency().String(), got.Equal(want))
}

// time accepts storage that keeps microseconds, as PostgreSQL does.
func (d *diffs) time(field string, got, want time.Time) {
	d.add(field, got, want, got.Sub(want).Abs() < time.Microsecond && got.IsZero() == want.IsZero())
}

func (d *diffs) source(field string, got, want domain.ProductSource) {
	d.add(field+" kind", got.Kind, want.Kind, got.Kind == want.Kind)
	d.add(field+" supplier", got.Supplier, want.Supplier, got.Supplier == want.Supplier)
	d.add(field+" product id", got.SupplierProductID, want.SupplierProductID, got.SupplierProductID == want.SupplierProductID)
	d.money(field+" cost", got.Cost, want.Cost)
}

// testCatalogPreorderChanges: a moved release date is stored, and a
// product released (no pre-order any more) loses its date.
func testCatalogPreorderChanges(t *testing.T, repo ports.CatalogRepository) {
	snap := domain.ProductSnapshot{
		SKU: "sku-pre", Name: "Game Preorder", Platform: "Steam", Region: "GLOBAL", Price: domain.MustMoney("49.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "kinguin", SupplierProductID: "kg-456", Cost: domain.MustMoney("39.99", "EUR")},
		Stock:  500, Active: true, UpdatedAt: suiteT0, Preorder: true, ReleaseDate: time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC),
	}
	for _, change := range []func(){
		func() {},
		func() { snap.ReleaseDate = time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC) },
		func() { snap.Preorder = false },
	} {
		change()
		want := newProduct(t, snap)
		if err := repo.Upsert(t.Context(), want); err != nil {
			t.Fatalf("Upsert: %v", err)
		}
		got, err := repo.Get(t.Context(), "sku-pre")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range productDiffs(got.Snapshot(), want.Snapshot()) {
			t.Errorf("product: %s", d)
		}
	}
	if got, _ := repo.Get(t.Context(), "sku-pre"); got.Preorder() || !got.ReleaseDate().IsZero() {
		t.Errorf("released product: preorder %v, release date %v", got.Preorder(), got.ReleaseDate())
	}
}
