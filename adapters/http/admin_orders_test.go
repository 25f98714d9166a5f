package http

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

func operationWith(req map[string][]string) *huma.Operation {
	return &huma.Operation{Security: []map[string][]string{req}}
}

// TestAdminOrderDetail: the detail holds the whole timeline, the payment
// notifications and the delivery links with their state, and no token
// and no key.
func TestAdminOrderDetail(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, token := deliveredOrder(t, api, w, app)
	revealed := api.Post("/v1/deliveries/" + token + "/reveal")
	if revealed.Code != http.StatusOK {
		t.Fatalf("reveal: %d %s", revealed.Code, revealed.Body)
	}
	var keys struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if err := json.Unmarshal(revealed.Body.Bytes(), &keys); err != nil || len(keys.Items) == 0 || len(keys.Items[0].Keys) == 0 {
		t.Fatalf("reveal body: %v %s", err, revealed.Body)
	}
	d, raw := getOrder(t, api, o.ID)
	if d.Status != "delivered" || len(d.Timeline) < 5 || d.Timeline[0].Type != "order_placed" {
		t.Fatalf("timeline %+v", d.Timeline)
	}
	if len(d.Notifications) != 1 || d.Notifications[0].Status != "finished" || len(d.Notifications[0].BodySHA256) != 64 {
		t.Fatalf("notifications %+v", d.Notifications)
	}
	if len(d.Links) != 1 || d.Links[0].State != "active" || d.Links[0].RevealsUsed != 1 || d.Links[0].MaxReveals != testMaxReveal {
		t.Fatalf("links %+v", d.Links)
	}
	for _, secret := range []string{token, o.AccessToken, keys.Items[0].Keys[0].Value} {
		if strings.Contains(raw, secret) {
			t.Fatalf("the detail holds a secret %q: %s", secret, raw)
		}
	}
	w.expire()
	if d, _ := getOrder(t, api, o.ID); d.Links[0].State != "expired" {
		t.Fatalf("link after its ttl: %+v", d.Links[0])
	}
	wantProblem(t, api.Get("/v1/admin/orders/00000000-0000-7000-8000-999999999999", adminAuth), http.StatusNotFound, "not found")
}

// TestAdminListOrders: newest first, filtered, paged by an opaque cursor.
func TestAdminListOrders(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	var ids []string
	for _, email := range []string{"a@example.com", "b@example.com", "a@example.com"} {
		resp := api.Post("/v1/orders", map[string]any{"email": email, "items": []any{map[string]any{"sku": "cyberpunk-2077-gog-global", "quantity": 1}}})
		var o placedOrder
		if resp.Code != http.StatusCreated || json.Unmarshal(resp.Body.Bytes(), &o) != nil {
			t.Fatalf("place: %d %s", resp.Code, resp.Body)
		}
		ids = append(ids, o.ID)
	}
	type page struct {
		Items []struct {
			ID       string `json:"id"`
			Email    string `json:"email"`
			Timeline []any  `json:"timeline"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	list := func(q string) page {
		t.Helper()
		resp := api.Get("/v1/admin/orders?"+q, adminAuth)
		var p page
		if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &p) != nil {
			t.Fatalf("list %s: %d %s", q, resp.Code, resp.Body)
		}
		return p
	}
	first := list("limit=2")
	if len(first.Items) != 2 || first.Items[0].ID != ids[2] || first.Items[1].ID != ids[1] || first.NextCursor == nil || first.Items[0].Timeline != nil {
		t.Fatalf("first page %+v", first)
	}
	last := list("limit=2&cursor=" + url.QueryEscape(*first.NextCursor))
	if len(last.Items) != 1 || last.Items[0].ID != ids[0] || last.NextCursor != nil {
		t.Fatalf("last page %+v", last)
	}
	if p := list("email=" + url.QueryEscape("A@Example.com") + "&status=pending_payment"); len(p.Items) != 2 || p.Items[0].ID != ids[2] {
		t.Fatalf("by email %+v", p)
	}
	if p := list("created_from=2026-11-27T12:00:00Z&created_to=2026-11-27T12:00:01Z"); len(p.Items) != 3 {
		t.Fatalf("by time %+v", p)
	}
	if p := list("created_to=2026-11-27T12:00:00Z"); len(p.Items) != 0 {
		t.Fatalf("before the first order %+v", p)
	}
	for _, q := range []string{"status=lost", "cursor=%21%21", "email=not-an-address", "created_from=2026-11-28T00:00:00Z&created_to=2026-11-27T00:00:00Z", "created_from=yesterday"} {
		wantProblem(t, api.Get("/v1/admin/orders?"+q, adminAuth), http.StatusUnprocessableEntity, "")
	}
}

// TestAuditFiltersAndFormats: /v1/admin/audit filters by time, type and
// order, and streams JSON lines or CSV; /v1/admin/audit/export still works.
func TestAuditFiltersAndFormats(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, token := deliveredOrder(t, api, w, app)
	other, _ := deliveredOrder(t, api, w, app)
	if resp := api.Post("/v1/deliveries/" + token + "/reveal"); resp.Code != http.StatusOK {
		t.Fatalf("reveal: %d", resp.Code)
	}
	if resp := api.Post("/v1/admin/orders/"+other.ID+"/revoke", adminAuth); resp.Code != http.StatusOK {
		t.Fatalf("revoke: %d", resp.Code)
	}
	if got := auditRecords(t, api, "&type=keys.revealed"); len(got) != 1 || got[0].Subject != o.ID {
		t.Fatalf("by type %+v", got)
	}
	if got := auditRecords(t, api, "&order_id="+other.ID+"&type=order.revoked"); len(got) != 1 || got[0].Action != "order.revoked" {
		t.Fatalf("by order %+v", got)
	}
	if got := auditRecords(t, api, "&to=2026-11-27T12:00:00Z"); len(got) != 0 {
		t.Fatalf("before anything %+v", got)
	}
	resp := api.Get("/v1/admin/audit?format=jsonl&type=keys.revealed", adminAuth)
	if resp.Code != http.StatusOK || !strings.HasPrefix(resp.Header().Get("Content-Type"), "application/jsonl") || strings.Count(resp.Body.String(), "\n") != 1 {
		t.Fatalf("jsonl: %d %s %q", resp.Code, resp.Header().Get("Content-Type"), resp.Body)
	}
	resp = api.Get("/v1/admin/audit?format=csv&order_id="+other.ID, adminAuth)
	rows, err := csv.NewReader(bufio.NewReader(resp.Body)).ReadAll()
	if err != nil || len(rows) < 2 || rows[0][0] != "seq" {
		t.Fatalf("csv: %v %q", err, rows)
	}
	for _, row := range rows[1:] {
		if row[4] != other.ID {
			t.Fatalf("csv row of another subject: %q", row)
		}
	}
	if resp := api.Get("/v1/admin/audit/export?format=csv&type=keys.revealed", adminAuth); strings.Count(resp.Body.String(), "\n") != 2 {
		t.Fatalf("export: %q", resp.Body)
	}
	wantProblem(t, api.Get("/v1/admin/audit?from=2026-11-28T00:00:00Z&to=2026-11-27T00:00:00Z", adminAuth), http.StatusUnprocessableEntity, "")
	wantProblem(t, api.Get("/v1/admin/audit?format=xml", adminAuth), http.StatusUnprocessableEntity, "")
}

// TestComplianceReport: reveals per day, paid→delivered percentiles and
// the orders that need attention, over a period.
func TestComplianceReport(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, token := deliveredOrder(t, api, w, app)
	if resp := api.Post("/v1/deliveries/" + token + "/reveal"); resp.Code != http.StatusOK {
		t.Fatalf("reveal: %d", resp.Code)
	}
	if resp := api.Post("/v1/admin/orders/"+o.ID+"/revoke", adminAuth); resp.Code != http.StatusOK {
		t.Fatalf("revoke: %d", resp.Code)
	}
	placeOrder(t, api, "cyberpunk-2077-gog-global")
	resp := api.Get("/v1/admin/reports/compliance?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z", adminAuth)
	var rep struct {
		RevealsPerDay []struct {
			Day   string `json:"day"`
			Count int    `json:"count"`
		} `json:"reveals_per_day"`
		PaidToDelivered struct {
			Count int `json:"count"`
		} `json:"paid_to_delivered"`
		Orders, Failed, Held, Revoked int
	}
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &rep) != nil {
		t.Fatalf("report: %d %s", resp.Code, resp.Body)
	}
	if len(rep.RevealsPerDay) != 1 || rep.RevealsPerDay[0].Day != "2026-11-27" || rep.RevealsPerDay[0].Count != 1 ||
		rep.PaidToDelivered.Count != 1 || rep.Orders != 2 || rep.Revoked != 1 || rep.Failed != 0 || rep.Held != 0 {
		t.Fatalf("report %+v", rep)
	}
	resp = api.Get("/v1/admin/reports/compliance?from=2026-11-28T00:00:00Z&to=2026-11-29T00:00:00Z", adminAuth)
	if resp.Code != http.StatusOK || !strings.Contains(resp.Body.String(), `"reveals_per_day":[]`) {
		t.Fatalf("empty period: %d %s", resp.Code, resp.Body)
	}
	wantProblem(t, api.Get("/v1/admin/reports/compliance?from=2026-11-28T00:00:00Z", adminAuth), http.StatusUnprocessableEntity, "")
	wantProblem(t, api.Get("/v1/admin/reports/compliance?from=2026-11-28T00:00:00Z&to=2025-11-28T00:00:00Z", adminAuth), http.StatusUnprocessableEntity, "")
}
