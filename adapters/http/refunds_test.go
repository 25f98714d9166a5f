package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAdminRefundOrder: the refund answers each key's outcome, the order
// detail shows it, the delivery link stops revealing, a second refund is
// 409, and a refund without a reason or with control characters in the
// reference is refused before anything changes.
func TestAdminRefundOrder(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, token := deliveredOrder(t, api, w, app)
	path := "/v1/admin/orders/" + o.ID + "/refund"

	wantProblem(t, api.Post(path, adminAuth, map[string]any{"reference": "x"}), http.StatusUnprocessableEntity, "")
	wantProblem(t, api.Post(path, adminAuth, map[string]any{"reason": "r", "reference": "a\r\nBcc: evil@example.com"}), http.StatusUnprocessableEntity, "")
	if d, _ := getOrder(t, api, o.ID); d.Status != "delivered" {
		t.Fatalf("a refused refund moved the order to %s", d.Status)
	}

	resp := api.Post(path, adminAuth, map[string]any{"reason": "=HYPERLINK(\"http://evil\")", "reference": "bank transfer #4411"})
	if resp.Code != http.StatusOK {
		t.Fatalf("refund: %d %s", resp.Code, resp.Body)
	}
	var body struct {
		Status      string           `json:"status"`
		KeyOutcomes []KeyOutcomeBody `json:"key_outcomes"`
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	// The sandbox supplier takes no keys back.
	if body.Status != "refunded" || len(body.KeyOutcomes) != 1 || body.KeyOutcomes[0].Outcome != "not_returnable" {
		t.Fatalf("refund answer %s", resp.Body)
	}
	d, _ := getOrder(t, api, o.ID)
	if d.Status != "refunded" || len(d.KeyOutcomes) != 1 || d.KeyOutcomes[0] != body.KeyOutcomes[0] {
		t.Fatalf("detail after the refund: %s, outcomes %+v", d.Status, d.KeyOutcomes)
	}
	if len(d.Links) != 1 || d.Links[0].State != "revoked" {
		t.Fatalf("links after the refund: %+v", d.Links)
	}
	if r := api.Post("/v1/deliveries/" + token + "/reveal"); r.Code != http.StatusGone {
		t.Fatalf("reveal after the refund: %d %s", r.Code, r.Body)
	}
	if p := wantProblem(t, api.Post(path, adminAuth, map[string]any{"reason": "again"}), http.StatusConflict, ""); !strings.Contains(p.Detail, "refunded already") {
		t.Fatalf("second refund: %q", p.Detail)
	}
	wantProblem(t, api.Post("/v1/admin/orders/00000000-0000-7000-8000-999999999999/refund", adminAuth, map[string]any{"reason": "r"}), http.StatusNotFound, "")
	if r := api.Post(path, map[string]any{"reason": "r"}); r.Code != http.StatusUnauthorized {
		t.Fatalf("refund without a key: %d", r.Code)
	}
}
