package bootstrap_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// TestRevokeAndAudit: an admin revokes a delivered order (crypto-shredding);
// its link answers 410 afterwards; every reveal and admin action is in the
// hash-chained audit log, which verifies and exports.
func TestRevokeAndAudit(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, withPostgres(url))
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "revoke@example.com"
	o := h.deliveredOrder(email, line(sku, 1))
	token := h.deliveryToken(email)
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, map[string]string{"User-Agent": "audit-test"}, nil); code != 200 {
		t.Fatalf("reveal: %d %s", code, raw)
	}

	var revoked orderResp
	if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/revoke", map[string]any{"reason": "chargeback"}, admin, &revoked); code != 200 || revoked.Status != "revoked" {
		t.Fatalf("revoke: %d %s", code, raw)
	}
	if _, err := h.dataKeys.Get(t.Context(), o.ID); err == nil {
		t.Fatal("the wrapped data key survived the revoke")
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != http.StatusGone || !strings.Contains(string(raw), "revoked") {
		t.Fatalf("reveal after revoke: %d %s", code, raw)
	}
	var st struct {
		Revealable bool   `json:"revealable"`
		Reason     string `json:"reason"`
	}
	if h.do("GET", "/v1/deliveries/"+token, nil, nil, &st); st.Revealable || st.Reason != "revoked" {
		t.Fatalf("delivery after revoke: %+v", st)
	}
	if code, _, _ := h.do("POST", "/v1/admin/orders/"+o.ID+"/resend-delivery", nil, admin, nil); code != http.StatusConflict {
		t.Fatalf("resend for a revoked order: %d", code)
	}

	var list struct {
		Items []struct {
			Seq     int64             `json:"seq"`
			Actor   string            `json:"actor"`
			Action  string            `json:"action"`
			Subject string            `json:"subject"`
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/audit?limit=100", nil, admin, &list); code != 200 {
		t.Fatalf("audit list: %d %s", code, raw)
	}
	// Besides the records of the people's actions, every admin request has
	// one of its own, and the pipeline's own changes (status transitions,
	// data keys, emails, payment notifications) theirs.
	changes := list.Items[:0]
	transitions := 0
	for _, r := range list.Items {
		switch {
		case r.Action == "order.transition":
			transitions++
		case strings.HasPrefix(r.Action, "admin."), r.Action == "datakey.created", r.Action == "email.sent", r.Action == "payment.notification":
		default:
			changes = append(changes, r)
		}
	}
	if len(changes) != 2 || transitions != 6 {
		t.Fatalf("audit records of changes: %+v, %d transitions (want 6: placed, paid, fulfilling, fulfilled, delivered, revoked)", changes, transitions)
	}
	rev, rvk := changes[0], changes[1]
	if rev.Action != "keys.revealed" || rev.Actor != "customer" || rev.Subject != o.ID || rev.Details["ip"] != "127.0.0.1" || rev.Details["user_agent"] != "audit-test" {
		t.Fatalf("reveal record %+v", rev)
	}
	if rvk.Action != "order.revoked" || !strings.HasPrefix(rvk.Actor, "admin:") || strings.Contains(rvk.Actor, testAdminKey) || rvk.Details["reason"] != "chargeback" {
		t.Fatalf("revoke record %+v", rvk)
	}
	var v struct {
		Valid    bool `json:"valid"`
		Verified int  `json:"verified"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/audit/verify", nil, admin, &v); code != 200 || !v.Valid || v.Verified < 4 {
		t.Fatalf("verify: %d %s", code, raw)
	}
	_, hdr, jsonl := h.do("GET", "/v1/admin/audit/export?format=jsonl&order_id="+o.ID+"&type=keys.", nil, admin, nil)
	if lines := bytes.Count(jsonl, []byte("\n")); lines != 1 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/jsonl") {
		t.Fatalf("jsonl export: %d lines, %s\n%s", lines, hdr.Get("Content-Type"), jsonl)
	}
	_, _, csvOut := h.do("GET", "/v1/admin/audit?format=csv&type=order.revoked", nil, admin, nil)
	rows, err := csv.NewReader(bufio.NewReader(bytes.NewReader(csvOut))).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "seq" || rows[1][3] != "order.revoked" {
		t.Fatalf("csv export: %v %q", err, rows)
	}
	if code, _, _ := h.do("GET", "/v1/admin/audit", nil, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("audit without admin key: %d", code)
	}
}
