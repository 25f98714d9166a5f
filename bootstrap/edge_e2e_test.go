package bootstrap_test

import (
	"net/http"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// TestOddBytesOnPostgres: NUL bytes and invalid UTF-8 in a path, a query
// or a body field are refused at the edge (404 or 422), never a database
// error answered as 500.
func TestOddBytesOnPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url })
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/v1/orders/%00", nil, http.StatusNotFound},
		{"GET", "/v1/products/a%00b", nil, http.StatusNotFound},
		{"GET", "/v1/products?cursor=%ff%fe", nil, http.StatusUnprocessableEntity},
		{"GET", "/v1/admin/orders/%c3%28", nil, http.StatusNotFound},
		{"POST", "/v1/orders", map[string]any{"email": "a@example.com", "items": []any{line("sku\u0000", 1)}}, http.StatusUnprocessableEntity},
		{"POST", "/v1/admin/orders/0190f3a5-0000-7000-8000-000000000000/revoke", map[string]any{"reason": "x\u0000y"}, http.StatusUnprocessableEntity},
	} {
		hdr := map[string]string{"Authorization": "Bearer " + testAdminKey}
		if code, _, raw := h.do(c.method, c.path, c.body, hdr, nil); code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, code, raw, c.status)
		}
	}
}
