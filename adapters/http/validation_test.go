package http

import (
	"strings"
	"testing"
)

// TestInvalidInputIsRefused: input that breaks the documented constraints
// gets 422 problem+json naming the offending field (400 for a body that is
// not JSON), and never reaches a use case.
func TestInvalidInputIsRefused(t *testing.T) {
	t.Parallel()
	api, w, _ := newTestAPI(t)
	w.gateway.down.Store(true) // an order that reached the use case would answer 503
	const sku = "cyberpunk-2077-gog-global"
	order := func(email string, items ...any) map[string]any { return map[string]any{"email": email, "items": items} }
	line := func(sku string, qty int) map[string]any { return map[string]any{"sku": sku, "quantity": qty} }
	long := strings.Repeat("a", 200)
	cases := []struct {
		name, method, path string
		args               []any
		status             int
		location           string
	}{
		{"quantity 0", "POST", "/v1/orders", []any{order("a@example.com", line(sku, 0))}, 422, "body.items[0].quantity"},
		{"quantity 11", "POST", "/v1/orders", []any{order("a@example.com", line(sku, 11))}, 422, "body.items[0].quantity"},
		{"bad email", "POST", "/v1/orders", []any{order("not-an-email", line(sku, 1))}, 422, "body.email"},
		{"no items", "POST", "/v1/orders", []any{map[string]any{"email": "a@example.com", "items": []any{}}}, 422, "body.items"},
		{"empty sku", "POST", "/v1/orders", []any{order("a@example.com", line("", 1))}, 422, "body.items[0].sku"},
		{"unknown field", "POST", "/v1/orders", []any{map[string]any{"email": "a@example.com", "items": []any{line(sku, 1)}, "coupon": "x"}}, 422, "body.coupon"},
		{"malformed json", "POST", "/v1/orders", []any{"Content-Type: application/json", strings.NewReader(`{"email":`)}, 400, ""},
		{"limit 0", "GET", "/v1/products?limit=0", nil, 422, "query.limit"},
		{"limit 101", "GET", "/v1/products?limit=101", nil, 422, "query.limit"},
		{"limit not a number", "GET", "/v1/products?limit=many", nil, 422, "query.limit"},
		{"sku too long", "GET", "/v1/products/" + long, nil, 422, "path.sku"},
		{"order id too long", "GET", "/v1/orders/" + long, []any{"Authorization: Bearer x"}, 422, "path.id"},
		{"token too long", "POST", "/v1/deliveries/" + long + "/reveal", nil, 422, "path.token"},
		{"audit limit 0", "GET", "/v1/admin/audit?limit=0", []any{adminAuth}, 422, "query.limit"},
		{"audit format", "GET", "/v1/admin/audit/export?format=xml", []any{adminAuth}, 422, "query.format"},
		{"revoke reason too long", "POST", "/v1/admin/orders/x/revoke", []any{adminAuth, map[string]any{"reason": strings.Repeat("r", 501)}}, 422, "body.reason"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := wantProblem(t, api.Do(c.method, c.path, c.args...), c.status, "")
			if c.location == "" {
				return
			}
			for _, e := range p.Errors {
				if e.Location == c.location {
					return
				}
			}
			t.Fatalf("no error at %s: %+v", c.location, p.Errors)
		})
	}
	if _, ok := w.mail.last(); ok {
		t.Fatal("invalid input sent mail")
	}
}
