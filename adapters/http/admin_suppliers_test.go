package http

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestAdminSuppliers: each configured supplier with its health, last sync
// and the items bought there.
func TestAdminSuppliers(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	deliveredOrder(t, api, w, app) // one item bought from the sandbox
	resp := api.Get("/v1/admin/suppliers", adminAuth)
	var out struct{ Items []SupplierBody }
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &out) != nil {
		t.Fatalf("suppliers: %d %s", resp.Code, resp.Body)
	}
	if len(out.Items) != 1 {
		t.Fatalf("suppliers = %+v, want the sandbox alone", out.Items)
	}
	s := out.Items[0]
	if s.Name != "sandbox" || !s.Healthy || s.LastSyncAt == nil || s.ItemsBought != 1 || s.Balance != nil || s.Breaker != "" {
		t.Errorf("sandbox = %+v, want healthy, synced, 1 item bought, no balance or breaker known", s)
	}
	if resp := api.Get("/v1/admin/suppliers"); resp.Code != http.StatusUnauthorized {
		t.Errorf("without a key: %d, want 401", resp.Code)
	}
}
