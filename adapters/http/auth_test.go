package http

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAdminOperationsNeedTheKey: every operation whose security names
// adminKey answers 401 without the right key, before its input is even
// read, and runs with it.
func TestAdminOperationsNeedTheKey(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	var admin []operation
	for _, o := range operations(api) {
		if requires(o.op, adminKeyScheme) {
			o.path = strings.ReplaceAll(o.path, "{id}", "00000000-0000-7000-8000-000000000000")
			admin = append(admin, o)
		}
	}
	if len(admin) < 8 {
		t.Fatalf("found %d admin operations", len(admin))
	}
	for _, o := range admin {
		for name, hdr := range map[string]string{
			"no key":       "X-Nothing: 1",
			"wrong key":    "Authorization: Bearer not-" + testAdminKey,
			"not bearer":   "Authorization: Basic " + testAdminKey,
			"empty bearer": "Authorization: Bearer ",
		} {
			t.Run(o.method+" "+o.path+"/"+name, func(t *testing.T) {
				resp := api.Do(o.method, o.path, hdr)
				wantProblem(t, resp, http.StatusUnauthorized, "admin API key required")
				if got := resp.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Fatalf("WWW-Authenticate %q", got)
				}
			})
		}
		t.Run(o.method+" "+o.path+"/right key", func(t *testing.T) {
			if resp := api.Do(o.method, o.path, adminAuth); resp.Code == http.StatusUnauthorized {
				t.Fatalf("the right key was refused: %s", resp.Body)
			}
		})
	}
	invalid := map[string]any{"reason": strings.Repeat("r", 501)}
	wantProblem(t, api.Post("/v1/admin/orders/x/revoke", invalid), http.StatusUnauthorized, "admin API key required")
	wantProblem(t, api.Post("/v1/admin/orders/x/revoke", adminAuth, invalid), http.StatusUnprocessableEntity, "")
}

// TestAdminActorReachesTheAuditLog: the handler acts as the key that
// authenticated, named by its fingerprint.
func TestAdminActorReachesTheAuditLog(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, _ := deliveredOrder(t, api, w, app)
	if resp := api.Post("/v1/admin/orders/"+o.ID+"/revoke", adminAuth, map[string]any{"reason": "chargeback"}); resp.Code != http.StatusOK {
		t.Fatalf("revoke: %d %s", resp.Code, resp.Body)
	}
	resp := api.Get("/v1/admin/audit", adminAuth)
	var page struct {
		Items []AuditRecordBody `json:"items"`
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &page); err != nil || resp.Code != http.StatusOK {
		t.Fatalf("audit: %d %s", resp.Code, resp.Body)
	}
	who, err := newServer(app, Options{AdminAPIKeys: []string{testAdminKey}, RateLimits: &RateLimits{}}, nil).checkAdminKey(t.Context(), "Bearer "+testAdminKey)
	if err != nil {
		t.Fatal(err)
	}
	want := who.Actor()
	for _, r := range page.Items {
		if r.Subject == o.ID && r.Action == "order.revoked" && r.Actor == want && strings.HasPrefix(want, "admin:") {
			return
		}
	}
	t.Fatalf("no audit record of %s by %s: %+v", o.ID, want, page.Items)
}

// TestOrderTokenOperations: order operations need a bearer token (401
// without), and a token that does not open the order reads as not found.
func TestOrderTokenOperations(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	o := placeOrder(t, api, "cyberpunk-2077-gog-global")
	const detail = "send the order's access token as 'Authorization: Bearer <token>'"
	wantProblem(t, api.Get("/v1/orders/"+o.ID), http.StatusUnauthorized, detail)
	wantProblem(t, api.Post("/v1/orders/"+o.ID+"/delivery-link"), http.StatusUnauthorized, detail)
	wantProblem(t, api.Get("/v1/orders/"+o.ID, "Authorization: Bearer wrong"), http.StatusNotFound, "not found")
	wantProblem(t, api.Get("/v1/orders/"+o.ID, adminAuth), http.StatusNotFound, "not found")
	if resp := api.Get("/v1/orders/"+o.ID, "Authorization: Bearer "+o.AccessToken); resp.Code != http.StatusOK {
		t.Fatalf("get order with its token: %d %s", resp.Code, resp.Body)
	}
}

// TestPublicOperationsIgnoreCredentials: public operations answer without
// credentials and are not refused for credentials they do not need.
func TestPublicOperationsIgnoreCredentials(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	for _, hdr := range []string{"X-Nothing: 1", "Authorization: Bearer wrong", adminAuth} {
		for _, path := range []string{"/v1/products", "/v1/products/cyberpunk-2077-gog-global", "/healthz", "/readyz"} {
			if resp := api.Get(path, hdr); resp.Code != http.StatusOK {
				t.Fatalf("GET %s with %q: %d %s", path, hdr, resp.Code, resp.Body)
			}
		}
	}
}
