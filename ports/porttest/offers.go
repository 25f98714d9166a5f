package porttest

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// OfferRepository runs the ports.OfferRepository contract. newRepos is
// called once per subtest, from parallel subtests, and must return an
// empty repository with the empty catalog whose products its links name.
func OfferRepository(t *testing.T, newRepos func(t *testing.T) (ports.OfferRepository, ports.CatalogRepository)) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.OfferRepository, ports.CatalogRepository)
	}{
		{"upsert then get keeps every field, and replaces", testOfferRoundTrip},
		{"list pages by supplier then product id", testOfferList},
		{"set links replaces the list, linked is cheapest first", testOfferSetLinks},
		{"links to an unknown offer or product are not found and change nothing", testOfferLinkUnknown},
		{"link adds and leaves existing links", testOfferLinkAdds},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			offers, catalog := newRepos(t)
			st.run(t, offers, catalog)
		})
	}
}

func suiteOffer(supplier, id, cost string, stock int) domain.Offer {
	return domain.Offer{
		Supplier: supplier, SupplierProductID: id, Name: "Game " + id, Cost: domain.MustMoney(cost, "EUR"), Stock: stock,
		Region: "Region free", Platform: "Steam", UpdatedAt: suiteT0,
	}
}

func seedOfferProduct(t *testing.T, catalog ports.CatalogRepository, sku string) {
	t.Helper()
	p := newProduct(t, domain.ProductSnapshot{
		SKU: sku, Name: "Game " + sku, Platform: "Steam", Region: "GLOBAL", Price: domain.MustMoney("20.00", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "kinguin", SupplierProductID: sku, Cost: domain.MustMoney("10.00", "EUR")},
		Stock:  1, Active: true, UpdatedAt: suiteT0,
	})
	if err := catalog.Upsert(t.Context(), p); err != nil {
		t.Fatalf("seed product %s: %v", sku, err)
	}
}

func testOfferRoundTrip(t *testing.T, repo ports.OfferRepository, _ ports.CatalogRepository) {
	want := suiteOffer("codeswholesale", "cw-1", "12.34", 7)
	want.Preorder, want.Region = true, "WORLDWIDE"
	noTime := suiteOffer("kinguin", "kg-1", "9.99", 0)
	noTime.UpdatedAt = domain.Offer{}.UpdatedAt // the supplier did not say
	if err := repo.Upsert(t.Context(), want, noTime); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	for _, w := range []domain.Offer{want, noTime} {
		got, err := repo.Get(t.Context(), w.Ref())
		if err != nil {
			t.Fatalf("Get(%s): %v", w.Ref(), err)
		}
		if !sameOffer(got, w) {
			t.Errorf("Get(%s) = %+v, want %+v", w.Ref(), got, w)
		}
	}
	changed := want
	changed.Cost, changed.Stock, changed.Preorder = domain.MustMoney("11.00", "EUR"), 0, false
	if err := repo.Upsert(t.Context(), changed); err != nil {
		t.Fatalf("Upsert again: %v", err)
	}
	if got, err := repo.Get(t.Context(), want.Ref()); err != nil || !sameOffer(got, changed) {
		t.Errorf("after replace Get = %+v, %v; want %+v", got, err, changed)
	}
	if _, err := repo.Get(t.Context(), domain.OfferRef{Supplier: "kinguin", SupplierProductID: "nope"}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Get(missing) err = %v, want ErrNotFound", err)
	}
	bad := suiteOffer("kinguin", "", "1.00", 1)
	if err := repo.Upsert(t.Context(), bad); !errors.Is(err, domain.ErrInvalidProduct) {
		t.Errorf("Upsert(no product id) err = %v, want ErrInvalidProduct", err)
	}
}

func sameOffer(a, b domain.Offer) bool {
	return a.Supplier == b.Supplier && a.SupplierProductID == b.SupplierProductID && a.Name == b.Name && a.Cost.Equal(b.Cost) &&
		a.Stock == b.Stock && a.Region == b.Region && a.Platform == b.Platform && a.Preorder == b.Preorder && sameMicrosecond(a.UpdatedAt, b.UpdatedAt) && a.UpdatedAt.IsZero() == b.UpdatedAt.IsZero()
}

func offerRefs(os []domain.Offer) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Ref().String()
	}
	return out
}

func testOfferList(t *testing.T, repo ports.OfferRepository, _ ports.CatalogRepository) {
	if err := repo.Upsert(t.Context(), suiteOffer("kinguin", "b", "1.00", 1), suiteOffer("codeswholesale", "z", "1.00", 1),
		suiteOffer("kinguin", "a", "1.00", 1)); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	first, err := repo.List(t.Context(), domain.OfferRef{}, 2)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := offerRefs(first); len(got) != 2 || got[0] != "codeswholesale/z" || got[1] != "kinguin/a" {
		t.Fatalf("first page = %v, want [codeswholesale/z kinguin/a]", got)
	}
	rest, err := repo.List(t.Context(), first[1].Ref(), 2)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got := offerRefs(rest); len(got) != 1 || got[0] != "kinguin/b" {
		t.Fatalf("second page = %v, want [kinguin/b]", got)
	}
}

func testOfferSetLinks(t *testing.T, repo ports.OfferRepository, catalog ports.CatalogRepository) {
	seedOfferProduct(t, catalog, "sku-1")
	seedOfferProduct(t, catalog, "sku-2")
	dear, cheap, other := suiteOffer("kinguin", "kg-1", "15.00", 3), suiteOffer("codeswholesale", "cw-1", "12.50", 0), suiteOffer("kinguin", "kg-2", "1.00", 1)
	if err := repo.Upsert(t.Context(), dear, cheap, other); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if err := repo.SetLinks(t.Context(), "sku-1", []domain.OfferRef{other.Ref()}); err != nil {
		t.Fatalf("SetLinks: %v", err)
	}
	if err := repo.SetLinks(t.Context(), "sku-1", []domain.OfferRef{dear.Ref(), cheap.Ref(), dear.Ref()}); err != nil {
		t.Fatalf("SetLinks again: %v", err)
	}
	got, err := repo.Linked(t.Context(), "sku-1")
	if err != nil {
		t.Fatalf("Linked: %v", err)
	}
	if refs := offerRefs(got); len(refs) != 2 || refs[0] != "codeswholesale/cw-1" || refs[1] != "kinguin/kg-1" {
		t.Fatalf("Linked = %v, want [codeswholesale/cw-1 kinguin/kg-1] (replaced, cheapest first, once each)", refs)
	}
	if !sameOffer(got[0], cheap) {
		t.Errorf("linked offer = %+v, want %+v", got[0], cheap)
	}
	if others, err := repo.Linked(t.Context(), "sku-2"); err != nil || len(others) != 0 {
		t.Errorf("Linked(sku-2) = %v, %v; want none", offerRefs(others), err)
	}
	skus, err := repo.LinkedTo(t.Context(), []domain.OfferRef{cheap.Ref(), dear.Ref(), {Supplier: "kinguin", SupplierProductID: "none"}})
	if err != nil || len(skus) != 1 || skus[0] != "sku-1" {
		t.Errorf("LinkedTo = %v, %v; want [sku-1] once", skus, err)
	}
	if err := repo.SetLinks(t.Context(), "sku-1", nil); err != nil {
		t.Fatalf("SetLinks(none): %v", err)
	}
	if none, err := repo.Linked(t.Context(), "sku-1"); err != nil || len(none) != 0 {
		t.Errorf("after SetLinks(none) Linked = %v, %v; want none", offerRefs(none), err)
	}
}

func testOfferLinkUnknown(t *testing.T, repo ports.OfferRepository, catalog ports.CatalogRepository) {
	seedOfferProduct(t, catalog, "sku-1")
	known := suiteOffer("kinguin", "kg-1", "15.00", 3)
	if err := repo.Upsert(t.Context(), known); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if err := repo.SetLinks(t.Context(), "sku-1", []domain.OfferRef{known.Ref()}); err != nil {
		t.Fatalf("SetLinks: %v", err)
	}
	missing := domain.OfferRef{Supplier: "codeswholesale", SupplierProductID: "nope"}
	if err := repo.SetLinks(t.Context(), "sku-1", []domain.OfferRef{missing}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("SetLinks(unknown offer) err = %v, want ErrNotFound", err)
	}
	if err := repo.SetLinks(t.Context(), "no-such-sku", []domain.OfferRef{known.Ref()}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("SetLinks(unknown sku) err = %v, want ErrNotFound", err)
	}
	if err := repo.Link(t.Context(), ports.OfferLink{SKU: "sku-1", Offer: missing}); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Link(unknown offer) err = %v, want ErrNotFound", err)
	}
	got, err := repo.Linked(t.Context(), "sku-1")
	if err != nil {
		t.Fatalf("Linked: %v", err)
	}
	if refs := offerRefs(got); len(refs) != 1 || refs[0] != "kinguin/kg-1" {
		t.Errorf("after refused changes Linked = %v, want [kinguin/kg-1]", refs)
	}
}

func testOfferLinkAdds(t *testing.T, repo ports.OfferRepository, catalog ports.CatalogRepository) {
	seedOfferProduct(t, catalog, "sku-1")
	a, b := suiteOffer("kinguin", "kg-1", "15.00", 3), suiteOffer("codeswholesale", "cw-1", "16.00", 3)
	if err := repo.Upsert(t.Context(), a, b); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	for range 2 {
		if err := repo.Link(t.Context(), ports.OfferLink{SKU: "sku-1", Offer: a.Ref()}); err != nil {
			t.Fatalf("Link: %v", err)
		}
	}
	if err := repo.Link(t.Context(), ports.OfferLink{SKU: "sku-1", Offer: b.Ref()}); err != nil {
		t.Fatalf("Link: %v", err)
	}
	got, err := repo.Linked(t.Context(), "sku-1")
	if err != nil {
		t.Fatalf("Linked: %v", err)
	}
	if refs := offerRefs(got); len(refs) != 2 || refs[0] != "kinguin/kg-1" || refs[1] != "codeswholesale/cw-1" {
		t.Errorf("Linked = %v, want [kinguin/kg-1 codeswholesale/cw-1]", refs)
	}
}
