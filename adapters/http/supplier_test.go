package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestKinguinWebhookAuthAndShape: the shared secret decides before the body
// is read; events are acknowledged with an empty 204; unreadable bodies
// and oversized ones are refused.
func TestKinguinWebhookAuthAndShape(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	const body = `{"orderId":"PX7Q2LMN4RA","orderExternalId":"ord_01HZX3K9Q2","status":"completed","updatedAt":"2025-03-14T10:43:12.090+00:00"}`
	cases := []struct {
		name    string
		headers []any
		body    string
		status  int
	}{
		{"no secret", []any{"X-Event-Name: order.status"}, body, http.StatusUnauthorized},
		{"wrong secret", []any{"X-Event-Name: order.status", "X-Event-Secret: not-" + testKinguinSecret}, body, http.StatusUnauthorized},
		{"wrong secret, bad body", []any{"X-Event-Name: order.status", "X-Event-Secret: x"}, "{", http.StatusUnauthorized},
		{"unknown order", []any{"X-Event-Name: order.status", "X-Event-Secret: " + testKinguinSecret}, body, http.StatusNoContent},
		{"unhandled event", []any{"X-Event-Name: order.created", "X-Event-Secret: " + testKinguinSecret}, `{}`, http.StatusNoContent},
		{"malformed", []any{"X-Event-Name: product.update", "X-Event-Secret: " + testKinguinSecret}, `{"productId": 1}`, http.StatusBadRequest},
		{"unknown supplier", []any{"X-Event-Name: order.status", "X-Event-Secret: " + testKinguinSecret}, body, http.StatusNotFound},
		{"too large", []any{"X-Event-Name: product.update", "X-Event-Secret: " + testKinguinSecret}, `{"pad":"` + strings.Repeat("x", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		args := append(append([]any{}, c.headers...), "Content-Type: application/json", strings.NewReader(c.body))
		// The sandbox supplier of these tests takes Kinguin's webhooks.
		path := "/v1/webhooks/sandbox"
		if c.name == "unknown supplier" {
			path = "/v1/webhooks/g2a"
		}
		resp := api.Post(path, args...)
		if resp.Code != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, resp.Code, resp.Body, c.status)
		}
		if c.status == http.StatusNoContent && resp.Body.Len() != 0 {
			t.Errorf("%s: 204 with a body %q", c.name, resp.Body)
		}
	}
}

// TestAdminCatalogSync: the sync answers its counts and steps through a
// catalog by cursor.
func TestAdminCatalogSync(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	var out struct {
		Products   int     `json:"products"`
		Pages      int     `json:"pages"`
		NextCursor *string `json:"next_cursor"`
	}
	resp := api.Post("/v1/admin/catalog/sync", adminAuth)
	if resp.Code != http.StatusOK {
		t.Fatalf("sync: %d %s", resp.Code, resp.Body)
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &out); err != nil || out.Products != 15 || out.Pages != 1 || out.NextCursor != nil {
		t.Fatalf("sync answered %s (%v), want 15 products in one page and no cursor", resp.Body, err)
	}
	resp = api.Post("/v1/admin/catalog/sync", adminAuth, map[string]any{"cursor": "nope"})
	if resp.Code != http.StatusBadGateway {
		t.Fatalf("sync with a foreign cursor: %d %s, want 502 with the supplier's reason", resp.Code, resp.Body)
	}
	resp = api.Post("/v1/admin/catalog/sync", adminAuth, map[string]any{"max_pages": -1})
	if resp.Code != http.StatusUnprocessableEntity {
		t.Fatalf("sync with max_pages -1: %d %s", resp.Code, resp.Body)
	}
}
