package http

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"
)

type stockLevels struct {
	SKU       string `json:"sku"`
	Sourcing  string `json:"sourcing"`
	Available int    `json:"available"`
	Assigned  int    `json:"assigned"`
	Withdrawn int    `json:"withdrawn"`
}

func firstSKU(t *testing.T, api humatest.TestAPI) string {
	t.Helper()
	resp := api.Get("/v1/products?limit=1")
	var page struct {
		Items []struct {
			SKU string `json:"sku"`
		} `json:"items"`
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &page); err != nil || len(page.Items) == 0 {
		t.Fatalf("products: %v %s", err, resp.Body)
	}
	return page.Items[0].SKU
}

func levelsOf(t *testing.T, api humatest.TestAPI, sku string) stockLevels {
	t.Helper()
	resp := api.Get("/v1/admin/products/"+sku+"/stock", adminAuth)
	if resp.Code != http.StatusOK {
		t.Fatalf("stock levels: %d %s", resp.Code, resp.Body)
	}
	var l stockLevels
	if err := json.Unmarshal(resp.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestStockAdmin: uploads count duplicates, levels show counts and never a
// key, a withdrawal is one-off, and a stock_only product with no key left
// answers 409 to an order and shows in_stock false.
func TestStockAdmin(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	sku := firstSKU(t, api)
	base := "/v1/admin/products/" + sku

	if resp := api.Put(base+"/sourcing", adminAuth, map[string]any{"sourcing": "stock_only"}); resp.Code != http.StatusOK {
		t.Fatalf("set sourcing: %d %s", resp.Code, resp.Body)
	}
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG fake image key"))
	upload := map[string]any{"keys": []string{"TEXT-KEY-1", "TEXT-KEY-2"}, "images": []any{map[string]any{"content_type": "image/png", "data": png}}}
	var ids []string
	for i, want := range []stockUpload{{Added: 3}, {Duplicates: 3}} {
		resp := api.Post(base+"/stock", adminAuth, upload)
		var got stockUpload
		if err := json.Unmarshal(resp.Body.Bytes(), &got); err != nil || resp.Code != http.StatusOK ||
			got.Added != want.Added || got.Duplicates != want.Duplicates || len(got.IDs) != got.Added {
			t.Fatalf("upload %d: %d %s, want %+v", i+1, resp.Code, resp.Body, want)
		}
		ids = append(ids, got.IDs...)
	}
	levels := api.Get(base+"/stock", adminAuth)
	if strings.Contains(levels.Body.String(), "TEXT-KEY") {
		t.Fatalf("stock levels show a key: %s", levels.Body)
	}
	if l := levelsOf(t, api, sku); l.Available != 3 || l.Sourcing != "stock_only" {
		t.Fatalf("levels %+v", l)
	}

	wantProblem(t, api.Post(base+"/stock", adminAuth, map[string]any{"keys": []string{"  "}}), http.StatusUnprocessableEntity, "")
	wantProblem(t, api.Post("/v1/admin/products/no-such-sku/stock", adminAuth, upload), http.StatusNotFound, "")
	wantProblem(t, api.Post(base+"/stock", upload), http.StatusUnauthorized, "")
	wantProblem(t, api.Delete(base+"/stock/no-such-key", adminAuth), http.StatusNotFound, "")
	wantProblem(t, api.Put(base+"/sourcing", adminAuth, map[string]any{"sourcing": "whatever"}), http.StatusUnprocessableEntity, "")

	for _, id := range ids {
		if resp := api.Delete(base+"/stock/"+id, adminAuth); resp.Code != http.StatusNoContent {
			t.Fatalf("withdraw %s: %d %s", id, resp.Code, resp.Body)
		}
	}
	wantProblem(t, api.Delete(base+"/stock/"+ids[0], adminAuth), http.StatusConflict, "")
	if l := levelsOf(t, api, sku); l.Available != 0 || l.Withdrawn != 3 {
		t.Fatalf("levels after withdrawals %+v", l)
	}

	// Neither stock nor (stock_only) the supplier: out of stock.
	p := wantProblem(t, api.Post("/v1/orders", map[string]any{"email": "buyer@example.com", "items": []any{map[string]any{"sku": sku, "quantity": 1}}}),
		http.StatusConflict, "")
	if !strings.Contains(p.Detail, "out of stock") || !strings.Contains(p.Detail, sku) {
		t.Fatalf("detail %q does not say the product is out of stock", p.Detail)
	}
	resp := api.Get("/v1/products/" + sku)
	if resp.Code != http.StatusOK || !strings.Contains(resp.Body.String(), `"in_stock":false`) {
		t.Fatalf("product: %d %s, want in_stock false", resp.Code, resp.Body)
	}
}

type stockUpload struct {
	Added      int      `json:"added"`
	Duplicates int      `json:"duplicates"`
	IDs        []string `json:"ids"`
}

// TestStockUploadRefusesControlCharacters: a key holding a control
// character is answered 422, naming the key by its position and the
// character by its code point, never repeating a key; nothing is stocked.
func TestStockUploadRefusesControlCharacters(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	sku := firstSKU(t, api)
	base := "/v1/admin/products/" + sku
	p := wantProblem(t, api.Post(base+"/stock", adminAuth, map[string]any{"keys": []string{"GOOD-KEY-0001", "BAD-KEY\u0000-0002"}}),
		http.StatusUnprocessableEntity, "")
	for _, want := range []string{"key 2", "U+0000"} {
		if !strings.Contains(p.Detail, want) {
			t.Errorf("detail %q does not name %q", p.Detail, want)
		}
	}
	if strings.Contains(p.Detail, "KEY-000") {
		t.Errorf("detail %q repeats a key", p.Detail)
	}
	if l := levelsOf(t, api, sku); l.Available != 0 {
		t.Fatalf("levels %+v, want nothing stocked", l)
	}
}
