package bootstrap_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/codeswholesale/codeswholesaletest"
	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// TestRoutingBetweenKinguinAndCodesWholesale: on PostgreSQL, a Kinguin
// product linked to its CodesWholesale offer too. Kinguin cheaper: bought
// from Kinguin. Kinguin out of stock (it refuses): bought from
// CodesWholesale. Kinguin out of stock and CodesWholesale down at the
// purchase: a wait, then one purchase at CodesWholesale; never two.
func TestRoutingBetweenKinguinAndCodesWholesale(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	kg := kinguintest.New(t, 0)
	kg.SetProduct(kinguintest.ProductID, 9.50, 100, time.Now()) // CodesWholesale's costs 9.99
	cw := codeswholesaletest.New(t, 0, 0)
	h := startKinguinAndCodesWholesale(t, kg, cw, func(c *bootstrap.Config) { c.DatabaseURL = url })
	h.waitCatalog(1, 20*time.Second)
	h.syncSupplier("codeswholesale")

	auth := map[string]string{"Authorization": "Bearer " + testAdminKey}
	var offers struct {
		Items []struct {
			Supplier string `json:"supplier"`
			Cost     struct {
				Amount string `json:"amount"`
			} `json:"cost"`
		} `json:"items"`
	}
	code, _, raw := h.do("PUT", "/v1/admin/products/"+kinguintest.ProductID+"/offers", map[string]any{"offers": []map[string]string{
		{"supplier": "codeswholesale", "supplier_product_id": codeswholesaletest.ProductID},
		{"supplier": "kinguin", "supplier_product_id": kinguintest.ProductID},
	}}, auth, &offers)
	if code != http.StatusOK || len(offers.Items) != 2 || offers.Items[0].Supplier != "kinguin" || offers.Items[1].Supplier != "codeswholesale" {
		t.Fatalf("link both offers: %d %s; want Kinguin (9.50) first, then CodesWholesale (9.99)", code, raw)
	}

	buy := func(email string) string {
		t.Helper()
		o := h.placeOrder(email, line(kinguintest.ProductID, 1))
		h.pay(o)
		h.waitStatus(o, "delivered", 30*time.Second)
		return h.getOrder(o).Items[0].ID
	}

	// Kinguin cheaper and in stock.
	item := buy("routing-cheaper@example.com")
	if kg.Purchases(item) != 1 || cw.Purchases(item) != 0 {
		t.Fatalf("Kinguin cheaper: %d Kinguin, %d CodesWholesale purchases; want Kinguin only", kg.Purchases(item), cw.Purchases(item))
	}

	// Kinguin sold out since the catalog was read: it refuses, the
	// purchase moves on to CodesWholesale.
	kg.SetProduct(kinguintest.ProductID, 9.50, 0, time.Now())
	item = buy("routing-out-of-stock@example.com")
	if kg.Purchases(item) != 0 || cw.Purchases(item) != 1 {
		t.Fatalf("Kinguin out of stock: %d Kinguin, %d CodesWholesale purchases; want CodesWholesale once", kg.Purchases(item), cw.Purchases(item))
	}

	// CodesWholesale down at the purchase: the item waits for it (Kinguin
	// still refuses), then is bought there once.
	posts := cw.Requests("POST /v3/orders")
	cw.Fail("POST /v3/orders", codeswholesaletest.Fault{Status: http.StatusServiceUnavailable}, codeswholesaletest.Fault{Status: http.StatusServiceUnavailable})
	item = buy("routing-down@example.com")
	if kg.Purchases(item) != 0 || cw.Purchases(item) != 1 || cw.Requests("POST /v3/orders")-posts < 3 {
		t.Fatalf("CodesWholesale down: %d Kinguin, %d CodesWholesale purchases from %d POSTs; want one CodesWholesale purchase after the outage",
			kg.Purchases(item), cw.Purchases(item), cw.Requests("POST /v3/orders")-posts)
	}
}
