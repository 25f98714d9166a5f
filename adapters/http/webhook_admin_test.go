package http

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/webhooksender"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// newWebhookAPI serves the test App with the webhook operations on the
// memory store and the real sender, private addresses refused.
func newWebhookAPI(t *testing.T) (humatest.TestAPI, application.App, *memory.Webhooks) {
	t.Helper()
	app, w := newTestApp(t)
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	store := memory.NewWebhooks()
	hooks := application.NewWebhooks(application.WebhookDeps{Store: store, Sender: webhooksender.New(webhooksender.Config{}), Tx: memory.Transactor{},
		Audit: memory.NewAuditLog(w.clock, application.NewAuditKey(kr, memory.NewDataKeys())), Mailer: w.mail, Clock: w.clock, IDs: &testIDs{},
		Log: slog.New(slog.DiscardHandler), Vault: kr, DataKeys: memory.NewDataKeys()}, application.WebhookSettings{})
	opts := Options{Version: "test", AdminAPIKeys: []string{testAdminKey}, PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}, Webhooks: hooks}
	_, api := humatest.New(t, apiConfig(opts))
	newServer(app, opts, slog.New(slog.DiscardHandler)).register(api)
	return api, app, store
}

// TestWebhookAdminRoles: support reads endpoints and the log but changes
// nothing; the secret is shown on creation only.
func TestWebhookAdminRoles(t *testing.T) {
	t.Parallel()
	api, app, store := newWebhookAPI(t)
	support, _ := newKey(t, app, "support", "desk-1")
	if err := store.CreateEndpoint(t.Context(), domain.WebhookEndpoint{ID: "ep-1", URL: "https://shop.example/hooks", Events: []string{"*"},
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/admin/webhooks/endpoints", "/v1/admin/webhooks/endpoints/ep-1", "/v1/admin/webhooks/messages", "/v1/admin/webhooks/event-types"} {
		resp := api.Get(path, support)
		if resp.Code != http.StatusOK {
			t.Fatalf("support GET %s: %d %s", path, resp.Code, resp.Body)
		}
		if strings.Contains(resp.Body.String(), "whsec_") {
			t.Fatalf("GET %s shows a secret: %s", path, resp.Body)
		}
	}
	for _, op := range []struct{ method, path string }{
		{"POST", "/v1/admin/webhooks/endpoints"}, {"PATCH", "/v1/admin/webhooks/endpoints/ep-1"}, {"DELETE", "/v1/admin/webhooks/endpoints/ep-1"},
		{"POST", "/v1/admin/webhooks/endpoints/ep-1/rotate-secret"}, {"POST", "/v1/admin/webhooks/endpoints/ep-1/test"},
		{"POST", "/v1/admin/webhooks/endpoints/ep-1/recover?since=2026-11-01T00:00:00Z"}, {"POST", "/v1/admin/webhooks/messages/1/redeliver"},
	} {
		var body []any
		if op.method != "DELETE" {
			body = append(body, map[string]any{"url": "https://shop.example/x", "events": []string{"*"}})
		}
		wantProblem(t, api.Do(op.method, op.path, append([]any{support}, body...)...), http.StatusForbidden, "")
	}
	resp := api.Post("/v1/admin/webhooks/endpoints/ep-1/rotate-secret", adminAuth)
	var rotated WebhookSecretBody
	if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &rotated) != nil || !strings.HasPrefix(rotated.Secret, domain.WebhookSecretPrefix) || rotated.RotationUntil == nil {
		t.Fatalf("rotate: %d %s", resp.Code, resp.Body)
	}
	if got := api.Get("/v1/admin/webhooks/endpoints/ep-1", adminAuth).Body.String(); strings.Contains(got, rotated.Secret) || strings.Contains(got, "whsec_") {
		t.Fatalf("the endpoint shows its secret: %s", got)
	}
	wantProblem(t, api.Get("/v1/admin/webhooks/endpoints/nope", adminAuth), http.StatusNotFound, "")
	wantProblem(t, api.Get("/v1/admin/webhooks/messages/nope", adminAuth), http.StatusNotFound, "")
}

// TestWebhookRegistrationRefusesPrivateAddresses: without the
// development switch, plain http and hosts that are or resolve to
// loopback, private, link-local or metadata addresses are refused.
func TestWebhookRegistrationRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	api, _, store := newWebhookAPI(t)
	for _, url := range []string{
		"https://127.0.0.1/hooks", "https://localhost:8443/hooks", "https://10.0.0.7/hooks", "https://192.168.1.20/hooks",
		"https://169.254.169.254/latest/meta-data", "https://[::1]/hooks", "https://[fd00:ec2::254]/hooks", "https://100.64.0.1/hooks",
		"https://[::ffff:127.0.0.1]/hooks", "http://shop.example/hooks", "ftp://shop.example/hooks", "https://user:pw@shop.example/hooks",
	} {
		p := wantProblem(t, api.Post("/v1/admin/webhooks/endpoints", adminAuth, map[string]any{"url": url, "events": []string{"order.paid"}}), http.StatusUnprocessableEntity, "")
		if !strings.Contains(p.Detail, "invalid webhook endpoint") {
			t.Errorf("%s: detail %q", url, p.Detail)
		}
	}
	wantProblem(t, api.Post("/v1/admin/webhooks/endpoints", adminAuth, map[string]any{"url": "https://203.0.114.9/hooks", "events": []string{"order.shipped"}}),
		http.StatusUnprocessableEntity, "")
	if eps, _ := store.Endpoints(t.Context()); len(eps) != 0 {
		t.Fatalf("refused endpoints were stored: %+v", eps)
	}
	// A public address is taken, with its secret shown once.
	resp := api.Post("/v1/admin/webhooks/endpoints", adminAuth, map[string]any{"url": "https://203.0.114.9/hooks", "events": []string{"order.paid", "order.delivered"}})
	var created WebhookSecretBody
	if resp.Code != http.StatusCreated || json.Unmarshal(resp.Body.Bytes(), &created) != nil || !strings.HasPrefix(created.Secret, domain.WebhookSecretPrefix) {
		t.Fatalf("create: %d %s", resp.Code, resp.Body)
	}
	if len(created.Secret) < len(domain.WebhookSecretPrefix)+32 { // base64 of >= 24 bytes
		t.Fatalf("secret %q too short", created.Secret)
	}
}

// TestOpenAPIWebhooksSection: the document's webhooks section and the
// event-types operation list the whole catalogue.
func TestOpenAPIWebhooksSection(t *testing.T) {
	t.Parallel()
	api, _, _ := newWebhookAPI(t)
	doc := api.OpenAPI()
	var listed struct {
		Items []struct{ Name string } `json:"items"`
	}
	if err := json.Unmarshal(api.Get("/v1/admin/webhooks/event-types", adminAuth).Body.Bytes(), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Items) != len(domain.WebhookEventTypes) || len(doc.Webhooks) != len(domain.WebhookEventTypes) {
		t.Fatalf("%d listed, %d in the document, want %d", len(listed.Items), len(doc.Webhooks), len(domain.WebhookEventTypes))
	}
	for _, typ := range listed.Items {
		w := doc.Webhooks[typ.Name]
		if w == nil || w.Post == nil || w.Post.RequestBody.Content["application/json"].Schema.Properties["type"].Enum[0] != typ.Name {
			t.Errorf("event type %s is not described in the webhooks section", typ.Name)
		}
	}
}

// TestOpenAPI30LeavesOutWebhooks: the 3.0 documents, for generators that
// do not read 3.1, have no webhooks section (3.0 has none) and are whole.
func TestOpenAPI30LeavesOutWebhooks(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t)
	h, _ := NewHandler(app, Options{Version: "test", RateLimits: &RateLimits{}}, slog.New(slog.DiscardHandler))
	for _, path := range []string{"/openapi-3.0.json", "/openapi-3.0.yaml"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "3.0.3") || !strings.Contains(body, "/v1/admin/webhooks/endpoints") {
			t.Fatalf("%s: %d, %d bytes", path, rec.Code, len(body))
		}
		if strings.Contains(body, "webhook-order.paid") {
			t.Fatalf("%s describes the webhooks section", path)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if !strings.Contains(rec.Body.String(), `"webhooks":{`) {
		t.Fatal("the 3.1 document has no webhooks section")
	}
}

// TestWebhookResendsToDisabledEndpointConflict: test, recover and
// redeliver answer 409 problem+json for a disabled endpoint, and redeliver
// answers 409 for a message still pending.
func TestWebhookResendsToDisabledEndpointConflict(t *testing.T) {
	t.Parallel()
	api, _, store := newWebhookAPI(t)
	if err := store.CreateEndpoint(t.Context(), domain.WebhookEndpoint{ID: "ep-1", URL: "https://shop.example/hooks", Events: []string{"*"},
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}); err != nil {
		t.Fatal(err)
	}
	resp := api.Post("/v1/admin/webhooks/endpoints/ep-1/test", adminAuth)
	var m WebhookMessageBody
	if resp.Code != http.StatusAccepted || json.Unmarshal(resp.Body.Bytes(), &m) != nil || m.ID == "" {
		t.Fatalf("test: %d %s", resp.Code, resp.Body)
	}
	p := wantProblem(t, api.Post("/v1/admin/webhooks/messages/"+m.ID+"/redeliver", adminAuth), http.StatusConflict, "")
	if !strings.Contains(p.Detail, "pending") {
		t.Errorf("pending redeliver detail %q", p.Detail)
	}
	if resp := api.Patch("/v1/admin/webhooks/endpoints/ep-1", adminAuth, map[string]any{"disabled": true}); resp.Code != http.StatusOK {
		t.Fatalf("disable: %d %s", resp.Code, resp.Body)
	}
	for _, path := range []string{"/v1/admin/webhooks/endpoints/ep-1/test", "/v1/admin/webhooks/endpoints/ep-1/recover?since=2026-11-01T00:00:00Z",
		"/v1/admin/webhooks/messages/" + m.ID + "/redeliver"} {
		p := wantProblem(t, api.Post(path, adminAuth), http.StatusConflict, "")
		if !strings.Contains(p.Detail, "disabled") {
			t.Errorf("POST %s: detail %q, want it to say the endpoint is disabled", path, p.Detail)
		}
	}
}
