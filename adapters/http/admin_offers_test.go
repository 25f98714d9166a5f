package http

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAdminProductOffers: a synced product is bought from its own offer;
// PUT replaces the list (cheapest first, the price follows the cheapest
// cost) and refuses what keyward does not know with 422.
func TestAdminProductOffers(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	const sku = "cyberpunk-2077-gog-global" // sandbox cost 17.49
	list := func(code int, body []byte) []OfferBody {
		t.Helper()
		var out struct{ Items []OfferBody }
		if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("offers: %d %s", code, body)
		}
		return out.Items
	}
	resp := api.Get("/v1/admin/products/"+sku+"/offers", adminAuth)
	got := list(resp.Code, resp.Body.Bytes())
	if len(got) != 1 || got[0].Supplier != "sandbox" || got[0].SupplierProductID != sku || got[0].Cost.Amount != "17.49" ||
		got[0].Stock != 240 || got[0].Name != "Cyberpunk 2077" || got[0].Platform != "GOG" || got[0].Region != "GLOBAL" {
		t.Fatalf("offers of a synced product = %+v, want its own sandbox offer", got)
	}

	resp = api.Put("/v1/admin/products/"+sku+"/offers", adminAuth, map[string]any{"offers": []map[string]string{
		{"supplier": "sandbox", "supplier_product_id": sku},
		{"supplier": "sandbox", "supplier_product_id": "the-witcher-3-goty-gog-global"}, // 7.49
	}})
	got = list(resp.Code, resp.Body.Bytes())
	if len(got) != 2 || got[0].SupplierProductID != "the-witcher-3-goty-gog-global" || got[1].SupplierProductID != sku {
		t.Fatalf("after PUT offers = %+v, want the 7.49 offer first", got)
	}
	var p ProductBody
	if resp := api.Get("/v1/products/" + sku); json.Unmarshal(resp.Body.Bytes(), &p) != nil || p.Price.Amount != "8.99" {
		t.Errorf("price after linking a 7.49 offer = %+v, want 8.99 (7.49 × 1.1 rounded up to .99)", p.Price)
	}
	resp = api.Get("/v1/admin/products/"+sku+"/offers", adminAuth)
	if again := list(resp.Code, resp.Body.Bytes()); len(again) != 2 {
		t.Errorf("GET after PUT = %+v, want the two offers", again)
	}

	for _, c := range []struct {
		name   string
		sku    string
		offers []map[string]string
		want   int
	}{
		{"a supplier not configured", sku, []map[string]string{{"supplier": "codeswholesale", "supplier_product_id": "x"}}, http.StatusUnprocessableEntity},
		{"an offer its catalog does not list", sku, []map[string]string{{"supplier": "sandbox", "supplier_product_id": "no-such-game"}}, http.StatusUnprocessableEntity},
		{"an unknown sku", "no-such-sku", []map[string]string{{"supplier": "sandbox", "supplier_product_id": sku}}, http.StatusNotFound},
	} {
		resp := api.Put("/v1/admin/products/"+c.sku+"/offers", adminAuth, map[string]any{"offers": c.offers})
		wantProblem(t, resp, c.want, "")
	}
	resp = api.Get("/v1/admin/products/"+sku+"/offers", adminAuth)
	if kept := list(resp.Code, resp.Body.Bytes()); len(kept) != 2 {
		t.Errorf("after refused PUTs offers = %+v, want the two linked before", kept)
	}
	if resp := api.Put("/v1/admin/products/"+sku+"/offers", map[string]any{"offers": []any{}}); resp.Code != http.StatusUnauthorized {
		t.Errorf("PUT without a key: %d, want 401", resp.Code)
	}
	resp = api.Put("/v1/admin/products/"+sku+"/offers", adminAuth, map[string]any{"offers": []any{}})
	if none := list(resp.Code, resp.Body.Bytes()); len(none) != 0 {
		t.Errorf("PUT [] = %+v, want none", none)
	}
}
