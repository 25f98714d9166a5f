package application_test

import (
	"testing"

	"github.com/keyward/keyward/domain"
)

// TestOfferSuggestionsAcrossSuppliers: offers of two suppliers with one
// normalised title, platform and region are suggested, surest first; one
// supplier's offers alone are not; nothing is linked.
func TestOfferSuggestionsAcrossSuppliers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app := w.app()
	offer := func(supplier, id, name, platform, region string) domain.Offer {
		return domain.Offer{Supplier: supplier, SupplierProductID: id, Name: name, Platform: platform, Region: region,
			Cost: domain.MustMoney("10.00", "EUR"), Stock: 1}
	}
	if err := w.offers.Upsert(t.Context(),
		offer("kinguin", "kg-cp", "Hollow Knight Silksong GOG CD Key", "GOG COM", "Region free"),
		offer("codeswholesale", "cw-cp", "Hollow Knight Silksong - GOG CD-Key", "GOG.com", "WORLDWIDE"),
		offer("kinguin", "kg-hades", "Celeste Farewell Steam CD Key", "Steam", "Region free"),
		offer("codeswholesale", "cw-hades", "Celeste Farewell", "Steam", "WORLDWIDE"),
		offer("codeswholesale", "cw-hades-eu", "Celeste Farewell", "Steam", "EUROPE"),
	); err != nil {
		t.Fatal(err)
	}
	got, err := app.Queries.OfferSuggestions.Handle(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("suggestions = %+v, want silksong and celeste", got)
	}
	if got[0].Key.Title != "hollow knight silksong" || got[0].Confidence != 1 || len(got[0].Offers) != 2 ||
		got[1].Key.Title != "celeste farewell" || got[1].Confidence != 0.8 || len(got[1].Offers) != 2 || got[1].Key.Region != "global" {
		t.Errorf("suggestions = %+v, want silksong (1) then the global celeste (0.8)", got)
	}
	ps, err := w.catalog.List(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		linked, err := w.offers.Linked(t.Context(), p.SKU())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range linked {
			if o.Supplier != "sandbox" {
				t.Errorf("%s is linked to %s: a suggestion linked it", p.SKU(), o.Ref())
			}
		}
	}
}
