package http

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/keyward/keyward/application"
)

// revealBody is the reveal's answer, as far as the claim tests read it.
type revealBody struct {
	Items []struct {
		Keys []KeyBody `json:"keys"`
	} `json:"items"`
}

// openClaim reveals the order of token and claims its first item.
func openClaim(t *testing.T, api humatest.TestAPI, token string) ClaimBody {
	t.Helper()
	if resp := api.Post("/v1/deliveries/" + token + "/reveal"); resp.Code != 200 {
		t.Fatalf("reveal: %d %s", resp.Code, resp.Body)
	}
	var d struct {
		Items []ItemBody `json:"items"`
	}
	st := api.Get("/v1/deliveries/" + token)
	var del struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(st.Body.Bytes(), &del); err != nil {
		t.Fatal(err)
	}
	o := api.Get("/v1/admin/orders/"+del.OrderID, adminAuth)
	if err := json.Unmarshal(o.Body.Bytes(), &d); err != nil || len(d.Items) == 0 {
		t.Fatalf("order: %v %s", err, o.Body)
	}
	resp := api.Post("/v1/deliveries/"+token+"/claims", map[string]any{"item_id": d.Items[0].ID, "reason": "already_used", "message": "Steam: already activated"})
	var c ClaimBody
	if resp.Code != 201 || json.Unmarshal(resp.Body.Bytes(), &c) != nil {
		t.Fatalf("open claim: %d %s", resp.Code, resp.Body)
	}
	return c
}

// TestClaimsOverHTTP: a customer claims through the delivery link; support
// lists and reads the claim (never the key); an approval without stock is
// a 409 problem that decides nothing; with stock it replaces the key, the
// reveal shows the replacement, the export lists the bad key by supplier
// order and an upload of the bad key is a duplicate.
func TestClaimsOverHTTP(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, token := deliveredOrder(t, api, w, app)
	od, _ := getOrder(t, api, o.ID)
	p := wantProblem(t, api.Post("/v1/deliveries/"+token+"/claims", map[string]any{"item_id": od.Items[0].ID, "reason": "not_working"}), http.StatusConflict, "")
	if !strings.Contains(p.Detail, "never revealed") {
		t.Fatalf("a claim before the reveal: %q", p.Detail)
	}
	var first revealBody
	if resp := api.Post("/v1/deliveries/" + token + "/reveal"); resp.Code != 200 || json.Unmarshal(resp.Body.Bytes(), &first) != nil {
		t.Fatalf("reveal: %d %s", resp.Code, resp.Body)
	}
	bad := first.Items[0].Keys[0].Value
	wantProblem(t, api.Post("/v1/deliveries/unknown-token/claims", map[string]any{"item_id": "x", "reason": "not_working"}), http.StatusNotFound, "")
	wantProblem(t, api.Post("/v1/deliveries/"+token+"/claims", map[string]any{"item_id": "x", "reason": "angry"}), http.StatusUnprocessableEntity, "")
	c := openClaim(t, api, token)
	wantProblem(t, api.Post("/v1/deliveries/"+token+"/claims", map[string]any{"item_id": c.ItemID, "reason": "other"}), http.StatusConflict, "")

	var list struct {
		Items      []ClaimBody `json:"items"`
		NextCursor *string     `json:"next_cursor"`
	}
	resp := api.Get("/v1/admin/claims?status=open&order_id="+o.ID, adminAuth)
	if resp.Code != 200 || json.Unmarshal(resp.Body.Bytes(), &list) != nil || len(list.Items) != 1 || list.Items[0].ID != c.ID ||
		list.Items[0].Message != "Steam: already activated" || list.NextCursor != nil {
		t.Fatalf("open claims: %d %s", resp.Code, resp.Body)
	}
	if resp := api.Get("/v1/admin/claims?status=approved", adminAuth); !strings.Contains(resp.Body.String(), `"items":[]`) {
		t.Fatalf("approved claims before any approval: %s", resp.Body)
	}
	detail := api.Get("/v1/admin/claims/"+c.ID, adminAuth)
	var d ClaimDetailBody
	if detail.Code != 200 || json.Unmarshal(detail.Body.Bytes(), &d) != nil || d.Order.ID != o.ID || d.Item.ID != c.ItemID ||
		len(d.Reveals) != 2 || d.Item.SupplierOrderID == "" || d.Decision != nil {
		t.Fatalf("claim detail: %d %s", detail.Code, detail.Body)
	}
	if strings.Contains(detail.Body.String(), bad) {
		t.Fatal("the claim detail shows the key")
	}

	approve := map[string]any{"source": "stock", "note": "batch reported twice"}
	wantProblem(t, api.Post("/v1/admin/claims/"+c.ID+"/approve", adminAuth, approve), http.StatusConflict, "")
	wantProblem(t, api.Post("/v1/admin/claims/"+c.ID+"/approve", adminAuth, map[string]any{"source": "warehouse"}), http.StatusUnprocessableEntity, "")
	if _, err := app.Commands.ImportStock.Handle(t.Context(), application.ImportStockCommand{SKU: d.Item.SKU, Actor: "admin:test",
		Keys: []application.StockKeyInput{{ContentType: "text/plain", Data: []byte("HTTP-RPLC-0001")}}}); err != nil {
		t.Fatal(err)
	}
	resp = api.Post("/v1/admin/claims/"+c.ID+"/approve", adminAuth, approve)
	var approved struct {
		Claim       ClaimBody `json:"claim"`
		Emailed     bool      `json:"emailed"`
		LinkID      *string   `json:"link_id"`
		BlockedKeys int       `json:"blocked_keys"`
	}
	if resp.Code != 200 || json.Unmarshal(resp.Body.Bytes(), &approved) != nil || approved.Claim.Status != "approved" || !approved.Emailed ||
		approved.LinkID == nil || approved.BlockedKeys != 1 {
		t.Fatalf("approve: %d %s", resp.Code, resp.Body)
	}
	wantProblem(t, api.Post("/v1/admin/claims/"+c.ID+"/reject", adminAuth, map[string]any{"message": "no"}), http.StatusConflict, "")
	mail, _ := w.mail.last()
	m := regexp.MustCompile(`/deliver/([A-Za-z0-9_-]+)`).FindStringSubmatch(mail.Text)
	if mail.Template != "key_replaced" || m == nil {
		t.Fatalf("replacement email %+v", mail)
	}
	var again revealBody
	if resp := api.Post("/v1/deliveries/" + m[1] + "/reveal"); resp.Code != 200 || json.Unmarshal(resp.Body.Bytes(), &again) != nil ||
		len(again.Items[0].Keys) != 1 || again.Items[0].Keys[0].Value != "HTTP-RPLC-0001" {
		t.Fatalf("reveal after the replacement: %d %s", resp.Code, resp.Body)
	}
	dup, err := app.Commands.ImportStock.Handle(t.Context(), application.ImportStockCommand{SKU: d.Item.SKU, Actor: "admin:test",
		Keys: []application.StockKeyInput{{ContentType: "text/plain", Data: []byte(" " + strings.ToLower(bad) + "\u200b ")}}})
	if err != nil || dup.Added != 0 || dup.Duplicates != 1 {
		t.Fatalf("upload of the bad key respelt: %+v, %v", dup, err)
	}

	csv := api.Get("/v1/admin/claims/export?format=csv", adminAuth)
	rows := strings.Split(strings.TrimSpace(csv.Body.String()), "\n")
	if csv.Code != 200 || !strings.HasPrefix(csv.Header().Get("Content-Type"), "text/csv") || len(rows) != 2 ||
		rows[0] != "supplier,supplier_order_id,sku,order_id,item_id,claim_id,reason,bad_keys,approved_at" ||
		!strings.Contains(rows[1], ","+d.Item.SupplierOrderID+","+d.Item.SKU+","+o.ID+","+c.ItemID+","+c.ID+",already_used,1,") {
		t.Fatalf("export: %d %s", csv.Code, csv.Body)
	}
	if strings.Contains(csv.Body.String(), bad) || strings.Contains(csv.Body.String(), "HTTP-RPLC-0001") {
		t.Fatal("the export holds a key")
	}
}
