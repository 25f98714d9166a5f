package application_test

import (
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// TestSyncKeepsAProductOnItsCheapestOffer: a product linked to a cheaper
// offer is priced on it and holds what all its offers hold, and a sync
// that reads the product's own listing again keeps it so.
func TestSyncKeepsAProductOnItsCheapestOffer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app := w.app()
	const sku, cheaper = "cyberpunk-2077-gog-global", "the-witcher-3-goty-gog-global" // 17.49 (240), 7.49 (410)
	linked, err := app.Commands.SetProductOffers.Handle(t.Context(), application.SetProductOffersCommand{Actor: "admin:test", SKU: sku,
		Offers: []domain.OfferRef{{Supplier: "sandbox", SupplierProductID: sku}, {Supplier: "sandbox", SupplierProductID: cheaper}}})
	if err != nil || len(linked) != 2 || linked[0].SupplierProductID != cheaper {
		t.Fatalf("SetProductOffers = %+v, %v; want the 7.49 offer first", linked, err)
	}
	check := func(when string) {
		t.Helper()
		p, err := w.catalog.Get(t.Context(), sku)
		if err != nil {
			t.Fatal(err)
		}
		if p.Price().String() != "8.99" || p.Source().SupplierProductID != cheaper || p.Stock() != 650 {
			t.Errorf("%s: %s priced %s from %s with %d in stock; want 8.99 from %s, 650 (240 + 410)", when, sku, p.Price(),
				p.Source().SupplierProductID, p.Stock(), cheaper)
		}
	}
	check("after linking")
	if _, err := app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{Mode: domain.SyncFull}); err != nil {
		t.Fatal(err)
	}
	check("after a full sync")
}
