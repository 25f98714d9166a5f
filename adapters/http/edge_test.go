package http

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/ports"
)

// syncBuffer is a log sink the handler may write from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestHandler is the complete handler (middleware included) on the test
// App, with the given limits, logging into logs.
func newTestHandler(t *testing.T, limits RateLimits, logs *syncBuffer) http.Handler {
	t.Helper()
	h, _ := newTestHandlerWorld(t, Options{RateLimits: &limits, Limiter: memory.NewRateLimiter()}, logs)
	return h
}

// newTestHandlerWorld is newTestHandler with more options (limits,
// limiter, proxies) and the test world behind it.
func newTestHandlerWorld(t *testing.T, opts Options, logs *syncBuffer) (http.Handler, *testWorld) {
	t.Helper()
	app, w := newTestApp(t)
	opts.Version, opts.AdminAPIKeys, opts.PageSecret = "test", []string{testAdminKey}, []byte("page-secret")
	h, _ := NewHandler(app, opts, slog.New(slog.NewJSONHandler(logs, nil)))
	return h, w
}

func call(h http.Handler, method, target, auth string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.RemoteAddr = "198.51.100.7:4711"
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestFailedAdminAuthenticationsAreLimitedAndLogged: wrong keys are logged
// (never the key itself) and, past the allowance, the source's failures
// get 429 problem+json; the right key from the same source is never
// refused by the failure limit.
func TestFailedAdminAuthenticationsAreLimitedAndLogged(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	h := newTestHandler(t, RateLimits{AdminFailures: ports.RateLimit{Every: time.Hour, Burst: 3}}, logs)
	const guess = "Bearer guessed-admin-key-0001"
	for i := range 3 {
		if w := call(h, "GET", "/v1/admin/audit", guess, nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, w.Code, w.Body)
		}
	}
	for _, auth := range []string{guess, ""} {
		w := call(h, "GET", "/v1/admin/audit", auth, nil)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
			!strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
			t.Fatalf("failure after 3 failures: %d (Retry-After %q, %s), want 429 problem+json", w.Code, w.Header().Get("Retry-After"), w.Header().Get("Content-Type"))
		}
	}
	for i := range 5 {
		if w := call(h, "GET", "/v1/admin/audit", "Bearer "+testAdminKey, nil); w.Code != http.StatusOK {
			t.Fatalf("the right key after the failures, request %d: %d %s, want 200", i, w.Code, w.Body)
		}
	}
	if n := strings.Count(logs.String(), "admin authentication failed"); n != 3 {
		t.Fatalf("%d failed authentications logged, want 3", n)
	}
	if strings.Contains(logs.String(), "guessed-admin-key") {
		t.Fatal("a tried key reached the log")
	}
	// Another source is not affected.
	r := httptest.NewRequest("GET", "/v1/admin/audit", nil)
	r.RemoteAddr = "203.0.113.9:1"
	r.Header.Set("Authorization", "Bearer "+testAdminKey)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("another source: %d", rec.Code)
	}
}

// TestAdminAnswersAreNeverCached: the audit export carries emails and IPs.
func TestAdminAnswersAreNeverCached(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, RateLimits{}, &syncBuffer{})
	for _, target := range []string{"/v1/admin/audit", "/v1/admin/audit/export?format=csv", "/v1/admin/orders/nope"} {
		for _, auth := range []string{"Bearer " + testAdminKey, ""} {
			if w := call(h, "GET", target, auth, nil); w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s (auth %t): Cache-Control %q", target, auth != "", w.Header().Get("Cache-Control"))
			}
		}
	}
}

// TestWebhooksAreLimitedPerSource: one source sending notifications that
// fail verification is cut off with 429.
func TestWebhooksAreLimitedPerSource(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, RateLimits{WebhookFailures: ports.RateLimit{Every: time.Hour, Burst: 2}}, &syncBuffer{})
	for i := range 2 {
		if w := call(h, "POST", "/v1/webhooks/nowpayments", "", []byte(`{}`)); w.Code != http.StatusUnauthorized {
			t.Fatalf("webhook %d: %d", i, w.Code)
		}
	}
	if w := call(h, "POST", "/v1/webhooks/nowpayments", "", []byte(`{}`)); w.Code != http.StatusTooManyRequests {
		t.Fatalf("third webhook: %d, want 429", w.Code)
	}
}

// TestControlBytesNeverReachStorage: NUL bytes, control characters and
// invalid UTF-8 in a path, a query or a body field get 404 or 422, never a
// database error.
func TestControlBytesNeverReachStorage(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, RateLimits{}, &syncBuffer{})
	for _, c := range []struct {
		method, target string
		body           string
		status         int
	}{
		{"GET", "/v1/orders/%00abc", "", http.StatusNotFound},
		{"GET", "/v1/products/sku%ff", "", http.StatusNotFound},
		{"GET", "/v1/deliveries/tok%0aen", "", http.StatusNotFound},
		{"GET", "/v1/products?cursor=%ff%fe", "", http.StatusUnprocessableEntity},
		{"GET", "/v1/products?cursor=a%00b", "", http.StatusUnprocessableEntity},
		{"POST", "/v1/orders", `{"email":"a@example.com","items":[{"sku":"cyber\u0000punk","quantity":1}]}`, http.StatusUnprocessableEntity},
		{"POST", "/v1/orders", `{"email":"a\u0000@example.com","items":[{"sku":"cyberpunk-2077-gog-global","quantity":1}]}`, http.StatusUnprocessableEntity},
	} {
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		w := call(h, c.method, c.target, "", body)
		if w.Code != c.status || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s %s: %d %s, want %d problem+json", c.method, c.target, w.Code, w.Header().Get("Content-Type"), c.status)
		}
	}
}

// TestProblemsDoNotEchoTheInput: a validation problem repeats a bounded
// part of what was sent, never a whole large input.
func TestProblemsDoNotEchoTheInput(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, RateLimits{}, &syncBuffer{})
	items := make([]map[string]any, 1000)
	for i := range items {
		items[i] = map[string]any{"sku": strings.Repeat("x", 200), "quantity": -1}
	}
	body, _ := json.Marshal(map[string]any{"email": strings.Repeat("e", 5000), "items": items})
	w := call(h, "POST", "/v1/orders", "", body)
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("%d", w.Code)
	}
	if w.Body.Len() > 4096 {
		t.Fatalf("the problem repeats %d bytes of a %d-byte request", w.Body.Len(), len(body))
	}
	var p struct {
		Errors []map[string]any `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || len(p.Errors) == 0 || len(p.Errors) > maxProblemErrors {
		t.Fatalf("errors: %d (%v)", len(p.Errors), err)
	}
}
