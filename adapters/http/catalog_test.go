package http

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
)

type productList struct {
	Items []struct {
		SKU      string    `json:"sku"`
		Name     string    `json:"name"`
		Platform string    `json:"platform"`
		Price    MoneyBody `json:"price"`
		InStock  bool      `json:"in_stock"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func listProducts(t *testing.T, api humatest.TestAPI, query url.Values) (skus []string, next *string) {
	t.Helper()
	resp := api.Get("/v1/products?" + query.Encode())
	if resp.Code != http.StatusOK {
		t.Fatalf("GET /v1/products?%s: %d %s", query.Encode(), resp.Code, resp.Body)
	}
	var page productList
	if err := json.Unmarshal(resp.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	for _, p := range page.Items {
		skus = append(skus, p.SKU)
	}
	return skus, page.NextCursor
}

// TestListProductsFilters: q, platform and in_stock against the sandbox's
// fifteen products, and cursor paging under a filter.
func TestListProductsFilters(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	for _, c := range []struct {
		query url.Values
		want  []string
	}{
		{url.Values{"q": {"WITCHER"}}, []string{"the-witcher-3-goty-gog-global"}},
		{url.Values{"q": {"baldur's gate"}}, []string{"baldurs-gate-3-steam-eu"}},
		{url.Values{"q": {"fc 25"}}, []string{"ea-sports-fc-25-ea-app-global"}},
		{url.Values{"platform": {"steam"}}, []string{"baldurs-gate-3-steam-eu", "elden-ring-steam-global", "hades-ii-steam-global", "stardew-valley-steam-global", "starfall-odyssey-steam-global-preorder"}},
		{url.Values{"in_stock": {"false"}}, []string{"red-dead-redemption-2-rockstar-eu"}},
		{url.Values{"platform": {"Windows"}, "q": {"office"}, "in_stock": {"true"}}, []string{"office-2021-pro-plus-global"}},
		{url.Values{"q": {"zelda"}}, nil},
	} {
		if got, _ := listProducts(t, api, c.query); !slices.Equal(got, c.want) {
			t.Errorf("?%s = %v, want %v", c.query.Encode(), got, c.want)
		}
	}

	all, _ := listProducts(t, api, url.Values{"in_stock": {"true"}, "limit": {"100"}})
	var paged []string
	q := url.Values{"in_stock": {"true"}, "limit": {"4"}}
	for range 10 {
		skus, next := listProducts(t, api, q)
		paged = append(paged, skus...)
		if next == nil {
			break
		}
		q.Set("cursor", *next)
	}
	if len(all) != 14 || !slices.Equal(paged, all) {
		t.Errorf("paging by 4 gave %v, want the 14 in stock %v", paged, all)
	}

	for _, bad := range []string{"in_stock=maybe", "limit=0", "q=" + url.QueryEscape(string(make([]byte, 101)))} {
		if resp := api.Get("/v1/products?" + bad); resp.Code != http.StatusUnprocessableEntity {
			t.Errorf("?%s: %d, want 422", bad, resp.Code)
		}
	}
}

type syncRunList struct {
	Items []struct {
		ID      string `json:"id"`
		Mode    string `json:"mode"`
		Status  string `json:"status"`
		Seen    int    `json:"seen"`
		Created int    `json:"created"`
		Changed int    `json:"changed"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// TestAdminSyncRuns: an on-demand sync is recorded and listed newest
// first, a page at a time.
func TestAdminSyncRuns(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t) // synced once when built
	resp := api.Post("/v1/admin/catalog/sync", adminAuth, map[string]any{"mode": "incremental"})
	if resp.Code != http.StatusOK {
		t.Fatalf("sync: %d %s", resp.Code, resp.Body)
	}
	var ran struct {
		RunID string `json:"run_id"`
		Mode  string `json:"mode"`
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &ran); err != nil || ran.RunID == "" || ran.Mode != "incremental" {
		t.Fatalf("sync answered %s", resp.Body)
	}
	resp = api.Get("/v1/admin/catalog/sync-runs?limit=1", adminAuth)
	var page syncRunList
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &page) != nil || len(page.Items) != 1 || page.NextCursor == nil {
		t.Fatalf("sync runs: %d %s", resp.Code, resp.Body)
	}
	if r := page.Items[0]; r.ID != ran.RunID || r.Status != "succeeded" || r.Seen != 15 || r.Changed != 0 {
		t.Errorf("newest run = %+v, want %s succeeded with 15 seen and none changed", r, ran.RunID)
	}
	resp = api.Get("/v1/admin/catalog/sync-runs?limit=1&cursor="+*page.NextCursor, adminAuth)
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &page) != nil || len(page.Items) != 1 {
		t.Fatalf("second page: %d %s", resp.Code, resp.Body)
	}
	if r := page.Items[0]; r.Mode != "full" || r.Created != 15 || page.NextCursor != nil {
		t.Errorf("first run = %+v (next %v), want the full import of 15 and no further page", r, page.NextCursor)
	}
	if resp := api.Get("/v1/admin/catalog/sync-runs"); resp.Code != http.StatusUnauthorized {
		t.Errorf("sync runs without a key: %d, want 401", resp.Code)
	}
}

// TestAdminUpdateProduct: a pinned price survives a sync, unpinning and
// margins reprice at once, active takes a product off sale.
func TestAdminUpdateProduct(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	const sku = "cyberpunk-2077-gog-global" // cost 17.49, default margin 0.10: 19.99
	put := func(body map[string]any) (int, AdminProductBody) {
		t.Helper()
		resp := api.Put("/v1/admin/products/"+sku, adminAuth, body)
		var out AdminProductBody
		_ = json.Unmarshal(resp.Body.Bytes(), &out)
		return resp.Code, out
	}
	price := func() string {
		t.Helper()
		var p ProductBody
		resp := api.Get("/v1/products/" + sku)
		if err := json.Unmarshal(resp.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		return p.Price.Amount
	}
	if code, p := put(map[string]any{"price": "15"}); code != http.StatusOK || p.Price.Amount != "15.00" || !p.PricePinned {
		t.Fatalf("pin: %d %+v", code, p)
	}
	if resp := api.Post("/v1/admin/catalog/sync", adminAuth); resp.Code != http.StatusOK {
		t.Fatalf("sync: %d %s", resp.Code, resp.Body)
	}
	if got := price(); got != "15.00" {
		t.Errorf("after a sync the pinned price is %s, want 15.00", got)
	}
	if code, p := put(map[string]any{"price": "", "margin": "0.5"}); code != http.StatusOK || p.PricePinned || p.Price.Amount != "26.99" {
		t.Errorf("unpin with margin 0.5: %d %+v, want 26.99 (17.49 × 1.5 = 26.235)", code, p)
	}
	if code, p := put(map[string]any{"margin": ""}); code != http.StatusOK || p.Price.Amount != "19.99" {
		t.Errorf("margin cleared: %d %+v, want 19.99", code, p)
	}
	if code, p := put(map[string]any{"active": false}); code != http.StatusOK || p.Active || p.InStock {
		t.Errorf("off sale: %d %+v", code, p)
	}

	resp := api.Put("/v1/admin/pricing/platforms/GOG", adminAuth, map[string]any{"margin": "0.2"})
	if resp.Code != http.StatusNoContent {
		t.Fatalf("platform margin: %d %s", resp.Code, resp.Body)
	}
	resp = api.Get("/v1/admin/pricing/margins", adminAuth)
	var rules struct{ Items []PricingRuleBody }
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &rules) != nil ||
		!slices.Equal(rules.Items, []PricingRuleBody{{Scope: "platform", Key: "gog", Margin: "0.2"}}) {
		t.Errorf("margins: %d %s, want the platform gog at 0.2 alone", resp.Code, resp.Body)
	}

	for _, c := range []struct {
		path string
		body map[string]any
		want int
	}{
		{"/v1/admin/products/" + sku, map[string]any{"margin": "11"}, http.StatusUnprocessableEntity},
		{"/v1/admin/products/" + sku, map[string]any{"price": "-1"}, http.StatusUnprocessableEntity},
		{"/v1/admin/products/" + sku, map[string]any{"price": "1.999"}, http.StatusUnprocessableEntity},
		{"/v1/admin/products/nope", map[string]any{"active": true}, http.StatusNotFound},
		{"/v1/admin/pricing/platforms/steam", map[string]any{"margin": "abc"}, http.StatusUnprocessableEntity},
	} {
		if resp := api.Put(c.path, adminAuth, c.body); resp.Code != c.want {
			t.Errorf("PUT %s %v: %d %s, want %d", c.path, c.body, resp.Code, resp.Body, c.want)
		}
	}
	if resp := api.Put("/v1/admin/products/"+sku, map[string]any{"active": true}); resp.Code != http.StatusUnauthorized {
		t.Errorf("without a key: %d, want 401", resp.Code)
	}
}

// TestProductListsAPreorder: the sandbox's pre-order is listed with
// preorder true and its release day; a released game has preorder false
// and no release_date at all.
func TestProductListsAPreorder(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	var pre map[string]any
	resp := api.Get("/v1/products/starfall-odyssey-steam-global-preorder")
	if err := json.Unmarshal(resp.Body.Bytes(), &pre); err != nil || resp.Code != http.StatusOK {
		t.Fatalf("%d %s", resp.Code, resp.Body)
	}
	day, _ := pre["release_date"].(string)
	released, err := time.Parse("2006-01-02", day)
	if pre["preorder"] != true || err != nil || !released.After(time.Now()) {
		t.Errorf("pre-order listed as %v", pre)
	}
	var game map[string]any
	resp = api.Get("/v1/products/elden-ring-steam-global")
	if err := json.Unmarshal(resp.Body.Bytes(), &game); err != nil {
		t.Fatal(err)
	}
	if _, has := game["release_date"]; game["preorder"] != false || has {
		t.Errorf("released game listed as %v", game)
	}
}
