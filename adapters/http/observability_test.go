package http

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/ports"
)

// TestRequestIDIsKeptWhenWellFormedAndMadeOtherwise: the answer echoes a
// well-formed X-Request-ID and the handlers see it in their context; a
// missing or malformed one is replaced by a new one.
func TestRequestIDIsKeptWhenWellFormedAndMadeOtherwise(t *testing.T) {
	t.Parallel()
	var seen string
	h := correlate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = ports.CorrelationID(r.Context()) }))
	for _, c := range []struct {
		name, sent string
		kept       bool
	}{
		{"uuid", "0b6f7e7c-4d5a-4b1e-9f3a-2c8d7e6f5a4b", true},
		{"trace style", "1-5759e988-bd862e3f.e1be:01", true},
		{"none", "", false},
		{"too short", "abc", false},
		{"too long", string(make([]byte, 200)), false},
		{"log forging", "abcdefgh\ninjected", false},
		{"spaces", "abcd efgh", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/healthz", nil)
			if c.sent != "" {
				r.Header.Set(RequestIDHeader, c.sent)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			got := w.Header().Get(RequestIDHeader)
			if got != seen || !wellFormedRequestID(got) {
				t.Fatalf("answered %q, handler saw %q", got, seen)
			}
			if (got == c.sent) != c.kept {
				t.Fatalf("sent %q, answered %q, kept=%v", c.sent, got, c.kept)
			}
		})
	}
}

// TestRateLimitRejectionsAreReported: each 429 of a limiter is reported
// once, with the limiter's name; /metrics serves the given handler.
func TestRateLimitRejectionsAreReported(t *testing.T) {
	t.Parallel()
	app, _ := newTestApp(t)
	var mu sync.Mutex
	rejected := map[string]int{}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("keyward_up 1\n")) })
	h, _ := NewHandler(app, Options{Version: "test", PageSecret: []byte("page-secret"), Metrics: metrics,
		RateLimits:    &RateLimits{WebhookFailures: ports.RateLimit{Every: time.Hour, Burst: 1}, DeliveryIP: ports.RateLimit{Every: time.Hour, Burst: 1}},
		Limiter:       memory.NewRateLimiter(),
		OnRateLimited: func(l string) { mu.Lock(); rejected[l]++; mu.Unlock() },
	}, slog.New(slog.DiscardHandler))
	for range 3 {
		call(h, "POST", "/v1/webhooks/nowpayments", "", []byte(`{}`))
		call(h, "GET", "/v1/deliveries/sometoken", "", nil)
	}
	mu.Lock()
	defer mu.Unlock()
	if rejected["webhook"] != 2 || rejected["ip"] != 2 {
		t.Fatalf("rejections reported: %v, want 2 webhook and 2 ip", rejected)
	}
	if w := call(h, "GET", "/metrics", "", nil); w.Code != http.StatusOK || w.Body.String() != "keyward_up 1\n" {
		t.Fatalf("/metrics: %d %q", w.Code, w.Body.String())
	}
	ops := NewOpsHandler(app, Options{Version: "test", Metrics: metrics}, slog.New(slog.DiscardHandler))
	if w := call(ops, "GET", "/metrics", "", nil); w.Code != http.StatusOK || w.Header().Get(RequestIDHeader) == "" {
		t.Fatalf("ops /metrics: %d, request id %q", w.Code, w.Header().Get(RequestIDHeader))
	}
}
