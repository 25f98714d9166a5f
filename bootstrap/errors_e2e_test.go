package bootstrap_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/nowpayments"
)

// TestBadInputGetsProblems: every bad request gets an RFC 9457 problem with
// a status a client can act on, and nothing is stored.
func TestBadInputGetsProblems(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		hdr    map[string]string
		status int
	}{
		{"unknown sku", "POST", "/v1/orders", map[string]any{"email": "a@example.com", "items": []any{line("no-such-sku", 1)}}, nil, 422},
		{"quantity 0", "POST", "/v1/orders", map[string]any{"email": "a@example.com", "items": []any{line(sku, 0)}}, nil, 422},
		{"quantity 11", "POST", "/v1/orders", map[string]any{"email": "a@example.com", "items": []any{line(sku, 11)}}, nil, 422},
		{"bad email", "POST", "/v1/orders", map[string]any{"email": "not-an-email", "items": []any{line(sku, 1)}}, nil, 422},
		{"no items", "POST", "/v1/orders", map[string]any{"email": "a@example.com", "items": []any{}}, nil, 422},
		{"same sku twice", "POST", "/v1/orders", map[string]any{"email": "a@example.com", "items": []any{line(sku, 1), line(sku, 1)}}, nil, 422},
		{"malformed json", "POST", "/v1/orders", []byte(`{"email":`), nil, 400},
		{"unknown product", "GET", "/v1/products/no-such-sku", nil, nil, 404},
		{"unknown order", "GET", "/v1/orders/00000000-0000-7000-8000-000000000000", nil, map[string]string{"Authorization": "Bearer x"}, 404},
		{"admin without key", "POST", "/v1/admin/orders/x/revoke", nil, nil, 401},
		{"admin with wrong key", "POST", "/v1/admin/orders/x/revoke", nil, map[string]string{"Authorization": "Bearer nope"}, 401},
		{"unknown delivery token", "GET", "/v1/deliveries/" + strings.Repeat("a", 43), nil, nil, 404},
		{"IPN without signature", "POST", "/v1/webhooks/nowpayments", []byte(`{"payment_id":1}`), nil, 401},
		{"IPN signed but not JSON", "POST", "/v1/webhooks/nowpayments", []byte(`not json`), map[string]string{nowpayments.SignatureHeader: sign(t, h, []byte(`not json`))}, 401},
		{"IPN signed, no status", "POST", "/v1/webhooks/nowpayments", []byte(`{"payment_id":1,"payment_status":"","order_id":"x"}`),
			map[string]string{nowpayments.SignatureHeader: sign(t, h, []byte(`{"payment_id":1,"payment_status":"","order_id":"x"}`))}, 400},
		{"IPN for unknown order", "POST", "/v1/webhooks/nowpayments", []byte(`{"payment_id":1,"payment_status":"finished","order_id":"nope"}`),
			map[string]string{nowpayments.SignatureHeader: sign(t, h, []byte(`{"payment_id":1,"payment_status":"finished","order_id":"nope"}`))}, 404},
		{"IPN too large", "POST", "/v1/webhooks/nowpayments", []byte(`{"x":"` + strings.Repeat("a", 70<<10) + `"}`), nil, 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, hdr, raw := h.do(c.method, c.path, c.body, c.hdr, nil)
			if code != c.status {
				t.Fatalf("status %d, want %d: %s", code, c.status, raw)
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Fatalf("content type %q", ct)
			}
			var p struct {
				Title  string `json:"title"`
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(raw, &p); err != nil || p.Status != c.status || p.Title == "" {
				t.Fatalf("not a problem document: %s", raw)
			}
		})
	}
	if n := len(h.mailsTo("a@example.com")); n != 0 {
		t.Fatalf("bad orders sent %d emails", n)
	}
	if code, _, _ := h.do("GET", "/readyz", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("readyz after bad input: %d", code)
	}
}

func sign(t *testing.T, h *harness, body []byte) string {
	t.Helper()
	sig, err := nowpayments.Sign(h.cfg.IPNSecret, body)
	if err != nil {
		return strings.Repeat("0", 128) // unsignable bodies get a well-formed wrong signature
	}
	return sig
}
