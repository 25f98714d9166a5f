package porttest

import (
	"slices"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

func testCatalogGetMany(t *testing.T, repo ports.CatalogRepository) {
	if err := repo.Upsert(t.Context(), testProduct(t, "sku-a", "1.99", 1), testProduct(t, "sku-b", "2.99", 1)); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	got, err := repo.GetMany(t.Context(), []string{"sku-b", "sku-nope", "sku-a"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	var skus []string
	for _, p := range got {
		skus = append(skus, p.SKU())
	}
	slices.Sort(skus)
	if !slices.Equal(skus, []string{"sku-a", "sku-b"}) {
		t.Errorf("GetMany = %v, want sku-a and sku-b", skus)
	}
	if got, err := repo.GetMany(t.Context(), nil); err != nil || len(got) != 0 {
		t.Errorf("GetMany(nil) = %d products, %v", len(got), err)
	}
}

// testCatalogFind: the filters of GET /v1/products, one at a time and
// together, and the cursor paging under a filter.
func testCatalogFind(t *testing.T, repo ports.CatalogRepository) {
	mk := func(sku, name, platform string, stock int, active bool) *domain.Product {
		return newProduct(t, domain.ProductSnapshot{
			SKU: sku, Name: name, Platform: platform, Region: "GLOBAL", Price: domain.MustMoney("9.99", "EUR"),
			Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: sku, Cost: domain.MustMoney("5.00", "EUR")},
			Stock:  stock, Active: active, UpdatedAt: suiteT0,
		})
	}
	if err := repo.Upsert(t.Context(),
		mk("p1", "The Witcher 3: Wild Hunt", "GOG", 5, true),
		mk("p2", "Baldur's Gate 3", "Steam", 3, true),
		mk("p3", "EA SPORTS FC 25", "EA app", 0, true), // sold out
		mk("p4", "Witcher 2 (100% off_sale)", "Steam", 7, false),
		mk("p5", "Elden Ring", "steam", 2, true),
		mk("p6", "Hades II", "Steam", 9, true),
	); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	yes, no := true, false
	cases := []struct {
		name string
		q    ports.CatalogQuery
		want []string
	}{
		{"no filter", ports.CatalogQuery{}, []string{"p1", "p2", "p3", "p4", "p5", "p6"}},
		{"name, any case", ports.CatalogQuery{Search: "WITCHER"}, []string{"p1", "p4"}},
		{"name with punctuation", ports.CatalogQuery{Search: "baldur's"}, []string{"p2"}},
		{"name with digits and space", ports.CatalogQuery{Search: "fc 25"}, []string{"p3"}},
		{"percent is literal", ports.CatalogQuery{Search: "100%"}, []string{"p4"}},
		{"underscore is literal", ports.CatalogQuery{Search: "f_s"}, []string{"p4"}},
		{"underscore is no wildcard", ports.CatalogQuery{Search: "o_f"}, nil}, // "off" would match
		{"platform, any case", ports.CatalogQuery{Platform: "STEAM"}, []string{"p2", "p4", "p5", "p6"}},
		{"in stock", ports.CatalogQuery{InStock: &yes}, []string{"p1", "p2", "p5", "p6"}},
		{"not in stock: sold out or inactive", ports.CatalogQuery{InStock: &no}, []string{"p3", "p4"}},
		{"all filters", ports.CatalogQuery{Search: "e", Platform: "steam", InStock: &yes}, []string{"p2", "p5", "p6"}},
		{"paged", ports.CatalogQuery{Platform: "steam", After: "p2", Limit: 2}, []string{"p4", "p5"}},
		{"paged with stock", ports.CatalogQuery{Platform: "steam", InStock: &yes, After: "p2", Limit: 1}, []string{"p5"}},
		{"nothing", ports.CatalogQuery{Search: "zelda"}, nil},
	}
	for _, c := range cases {
		got, err := repo.Find(t.Context(), c.q)
		if err != nil {
			t.Fatalf("%s: Find: %v", c.name, err)
		}
		var skus []string
		for _, p := range got {
			skus = append(skus, p.SKU())
		}
		if !slices.Equal(skus, c.want) {
			t.Errorf("%s: Find(%+v) = %v, want %v", c.name, c.q, skus, c.want)
		}
	}
}

func testCatalogPinned(t *testing.T, repo ports.CatalogRepository) {
	s := testProduct(t, "sku-pin", "4.99", 1).Snapshot()
	s.PricePinned = true
	if err := repo.Upsert(t.Context(), newProduct(t, s)); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	got, err := repo.Get(t.Context(), "sku-pin")
	if err != nil || !got.PricePinned() {
		t.Fatalf("Get = pinned %v, %v; want pinned", got != nil && got.PricePinned(), err)
	}
}
