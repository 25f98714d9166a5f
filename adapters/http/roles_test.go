package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// newKey makes a stored admin key of role through the use case and
// returns its Authorization header.
func newKey(t *testing.T, app application.App, role, name string) (string, *domain.AdminKey) {
	t.Helper()
	k, err := app.Commands.CreateAdminKey.Handle(t.Context(), role, name, application.ActorOperatorCLI)
	if err != nil {
		t.Fatalf("create %s key: %v", role, err)
	}
	return "Authorization: Bearer " + k.Secret, k.Key
}

func auditRecords(t *testing.T, api humatest.TestAPI, query string) []AuditRecordBody {
	t.Helper()
	resp := api.Get("/v1/admin/audit?limit=1000"+query, adminAuth)
	var page struct {
		Items []AuditRecordBody `json:"items"`
	}
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &page) != nil {
		t.Fatalf("audit: %d %s", resp.Code, resp.Body)
	}
	return page.Items
}

// TestSupportKeyRoles: a support key reads (orders, timelines, audit,
// reports) and re-sends delivery links, and gets 403 on everything else
// (revoke, retry, rotate, anything an operation does not open to support);
// a stored admin key may do everything; an unknown or revoked key gets 401.
// Every one of these requests is in the audit log, named by the key's id
// and name, never by the key.
func TestSupportKeyRoles(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, token := deliveredOrder(t, api, w, app)
	claim := openClaim(t, api, token)
	support, supportKey := newKey(t, app, "support", "desk-1")
	admin, adminKey := newKey(t, app, "admin", "ops-1")

	var supportOps, adminOnly int
	for _, op := range operations(api) {
		if !requires(op.op, adminKeyScheme) || strings.HasPrefix(op.path, "/v1/admin/webhooks/") { // TestWebhookAdminRoles
			continue
		}
		path := strings.ReplaceAll(strings.ReplaceAll(op.path, "{id}", o.ID), "{sku}", "cyberpunk-2077-gog-global")
		if strings.HasPrefix(op.path, "/v1/admin/claims/") {
			path = strings.ReplaceAll(op.path, "{id}", claim.ID)
		}
		if strings.Contains(op.path, "/reports/") {
			path += "?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
		}
		if allows(op.op, domain.RoleSupport) {
			supportOps++
			if resp := api.Do(op.method, path, support); resp.Code >= 400 && resp.Code != http.StatusTooManyRequests {
				t.Errorf("support %s %s: %d %s", op.method, path, resp.Code, resp.Body)
			}
			continue
		}
		adminOnly++
		wantProblem(t, api.Do(op.method, path, support), http.StatusForbidden, "this admin key's role does not allow this operation")
	}
	if supportOps < 6 || adminOnly < 3 {
		t.Fatalf("%d support operations, %d admin-only ones", supportOps, adminOnly)
	}
	for _, path := range []string{"/orders/" + o.ID + "/revoke", "/orders/" + o.ID + "/retry-fulfilment", "/keys/rotate"} {
		wantProblem(t, api.Post("/v1/admin"+path, support), http.StatusForbidden, "")
	}
	if resp := api.Get("/v1/admin/orders/"+o.ID, support); resp.Code != http.StatusOK {
		t.Fatalf("support reads an order: %d %s", resp.Code, resp.Body)
	}
	if o2, _ := getOrder(t, api, o.ID); o2.Status != "delivered" {
		t.Fatalf("a refused revoke changed the order: %s", o2.Status)
	}

	wantProblem(t, api.Get("/v1/admin/orders", "Authorization: Bearer unknown-key-0123456789"), http.StatusUnauthorized, "admin API key required")
	if resp := api.Post("/v1/admin/orders/"+o.ID+"/revoke", admin, map[string]any{"reason": "chargeback"}); resp.Code != http.StatusOK {
		t.Fatalf("admin key revokes: %d %s", resp.Code, resp.Body)
	}
	if _, err := app.Commands.RevokeAdminKey.Handle(t.Context(), supportKey.ID(), application.ActorOperatorCLI); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, api.Get("/v1/admin/orders", support), http.StatusUnauthorized, "admin API key required")

	records := auditRecords(t, api, "&type=admin.")
	find := func(action, actor, operation, status string) AuditRecordBody {
		t.Helper()
		for _, r := range records {
			if r.Action == action && r.Actor == actor && r.Details["operation"] == operation && r.Details["status"] == status {
				return r
			}
		}
		t.Fatalf("no %s record by %s of %s with status %s in %+v", action, actor, operation, status, records)
		return AuditRecordBody{}
	}
	read := find(application.AuditAdminRequest, "admin:"+supportKey.ID(), "admin-get-order", "200")
	if read.Details["key_name"] != "desk-1" || read.Details["role"] != "support" || read.Subject != o.ID {
		t.Fatalf("support read record %+v", read)
	}
	find(application.AuditAdminDenied, "admin:"+supportKey.ID(), "admin-revoke-order", "403")
	find(application.AuditAdminDenied, "admin:"+supportKey.ID(), "admin-rotate-keys", "403")
	if r := find(application.AuditAdminRequest, "admin:"+adminKey.ID(), "admin-revoke-order", "200"); r.Details["key_name"] != "ops-1" {
		t.Fatalf("admin record %+v", r)
	}
	find(application.AuditAdminUnknownKey, application.ActorAnonymous, "admin-list-orders", "401")
	if n := len(auditRecords(t, api, "&type=admin.unknown_key")); n != 2 {
		t.Fatalf("%d unknown-key records, want 2 (unknown, then revoked)", n)
	}
	raw := api.Get("/v1/admin/audit/export?format=jsonl", adminAuth).Body.String()
	for _, secret := range []string{strings.TrimPrefix(support, "Authorization: Bearer "), strings.TrimPrefix(admin, "Authorization: Bearer "), testAdminKey} {
		if strings.Contains(raw, secret) {
			t.Fatal("an admin key is in the audit log")
		}
	}
}

func getOrder(t *testing.T, api humatest.TestAPI, id string) (OrderDetailBody, string) {
	t.Helper()
	resp := api.Get("/v1/admin/orders/"+id, adminAuth)
	var d OrderDetailBody
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &d) != nil {
		t.Fatalf("order detail: %d %s", resp.Code, resp.Body)
	}
	return d, resp.Body.String()
}

// TestUndeclaredAdminOperationIsAdminOnly: an adminKey requirement that
// names no role is open to admin keys alone.
func TestUndeclaredAdminOperationIsAdminOnly(t *testing.T) {
	t.Parallel()
	op := operationWith(map[string][]string{adminKeyScheme: {}})
	if !allows(op, domain.RoleAdmin) || allows(op, domain.RoleSupport) {
		t.Fatal("an operation without roles must be admin-only")
	}
	if op := operationWith(map[string][]string{adminKeyScheme: {"admin", "support"}}); !allows(op, domain.RoleSupport) {
		t.Fatal("support is refused where it is named")
	}
}
