package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/ports"
)

// from sends one request from peer (host:port) with the given headers
// ("Name: value").
func from(h http.Handler, peer, method, target string, body []byte, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	r.RemoteAddr = peer
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, hd := range headers {
		k, v, _ := strings.Cut(hd, ": ")
		r.Header.Add(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// concurrently sends n requests at once and returns their status codes.
func concurrently(n int, send func() int) map[int]int {
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := send()
			mu.Lock()
			codes[c]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return codes
}

// TestSignedWebhooksAreNeverLimited: a sale's burst of correctly signed
// IPNs (and Kinguin events with the right secret), far more than the
// failure burst, posted at once from one address, is answered 2xx every
// time; notifications that fail verification from that address are still
// cut off with 429 problem+json.
func TestSignedWebhooksAreNeverLimited(t *testing.T) {
	t.Parallel()
	limits := DefaultRateLimits
	// The default's burst, given back slowly enough that a loaded machine
	// running the batch under the race detector earns no budget back.
	limits.WebhookFailures.Every = time.Hour
	h, w := newTestHandlerWorld(t, Options{RateLimits: &limits, Limiter: memory.NewRateLimiter()}, &syncBuffer{})
	const gateway = "203.0.113.50:443"
	placed := from(h, "198.51.100.1:1", "POST", "/v1/orders", []byte(`{"email":"buyer@example.com","items":[{"sku":"cyberpunk-2077-gog-global","quantity":1}]}`))
	var o placedOrder
	if err := json.Unmarshal(placed.Body.Bytes(), &o); err != nil || placed.Code != http.StatusCreated {
		t.Fatalf("place order: %d %s", placed.Code, placed.Body)
	}
	p, ok := w.gateway.PaymentGateway.(*sandbox.Gateway).Payment(o.ID)
	if !ok {
		t.Fatal("no sandbox payment")
	}
	body := sandbox.IPNBody(p, "finished", p.PayAmount, w.clock.Now())
	sig, err := nowpayments.Sign(testIPNSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	n := 3 * limits.WebhookFailures.Burst
	codes := concurrently(n, func() int {
		return from(h, gateway, "POST", "/v1/webhooks/nowpayments", body, nowpayments.SignatureHeader+": "+sig).Code
	})
	if codes[http.StatusOK] != n {
		t.Fatalf("%d signed IPNs at once from one address: %v, want all 200", n, codes)
	}
	const event = `{"orderId":"PX7Q2LMN4RA","orderExternalId":"ord_unknown","status":"completed","updatedAt":"2025-03-14T10:43:12.090+00:00"}`
	codes = concurrently(n, func() int {
		return from(h, gateway, "POST", "/v1/webhooks/sandbox", []byte(event), "X-Event-Name: order.status", "X-Event-Secret: "+testKinguinSecret).Code
	})
	if codes[http.StatusNoContent] != n {
		t.Fatalf("%d Kinguin events with the right secret at once: %v, want all 204", n, codes)
	}

	codes = concurrently(n, func() int {
		return from(h, gateway, "POST", "/v1/webhooks/nowpayments", body, nowpayments.SignatureHeader+": "+strings.Repeat("0", 128)).Code
	})
	if codes[http.StatusUnauthorized] != limits.WebhookFailures.Burst || codes[http.StatusTooManyRequests] != n-limits.WebhookFailures.Burst {
		t.Fatalf("%d badly signed IPNs: %v, want %d × 401 then 429", n, codes, limits.WebhookFailures.Burst)
	}
	bad := from(h, gateway, "POST", "/v1/webhooks/sandbox", []byte(event), "X-Event-Name: order.status", "X-Event-Secret: wrong-secret")
	wantProblem(t, bad, http.StatusTooManyRequests, "")
	if bad.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Still: the signed notification from the same, limited address.
	if r := from(h, gateway, "POST", "/v1/webhooks/nowpayments", body, nowpayments.SignatureHeader+": "+sig); r.Code != http.StatusOK {
		t.Fatalf("signed IPN after the failures: %d %s", r.Code, r.Body)
	}
}

// TestOrdersAreLimitedPerSourceAndRecipient: order placement spends a
// budget per client address and per recipient; spellings of one mailbox
// (case, spaces, +tags) share the recipient's budget; over either, 429
// problem+json with Retry-After.
func TestOrdersAreLimitedPerSourceAndRecipient(t *testing.T) {
	t.Parallel()
	limits := RateLimits{OrdersPerSource: ports.RateLimit{Every: time.Hour, Burst: 4}, OrdersPerEmail: ports.RateLimit{Every: time.Hour, Burst: 2}}
	h, _ := newTestHandlerWorld(t, Options{RateLimits: &limits, Limiter: memory.NewRateLimiter()}, &syncBuffer{})
	order := func(peer, email string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(map[string]any{"email": email, "items": []any{map[string]any{"sku": "cyberpunk-2077-gog-global", "quantity": 1}}})
		return from(h, peer, "POST", "/v1/orders", b)
	}
	const shop, script = "198.51.100.10:1", "198.51.100.66:1"
	steps := []struct {
		peer, email string
		status      int
	}{
		{script, "victim@example.com", http.StatusCreated},
		{script, "Victim+spam1@Example.COM", http.StatusCreated},
		{script, "victim+spam2@example.com", http.StatusTooManyRequests}, // the mailbox's budget
		{shop, "VICTIM@example.com", http.StatusTooManyRequests},         // from anywhere
		{script, "other@example.com", http.StatusCreated},
		{script, "third@example.com", http.StatusTooManyRequests}, // the source's budget: 4 spent
		{shop, "third@example.com", http.StatusCreated},
	}
	for i, st := range steps {
		w := order(st.peer, st.email)
		if w.Code != st.status {
			t.Fatalf("step %d (%s, %s): %d %s, want %d", i, st.peer, st.email, w.Code, w.Body, st.status)
		}
		if st.status == http.StatusTooManyRequests {
			wantProblem(t, w, http.StatusTooManyRequests, "")
			if w.Header().Get("Retry-After") == "" {
				t.Fatalf("step %d: 429 without Retry-After", i)
			}
		}
	}
}

// TestCanonicalEmail: the recipient's budget key folds the spellings of
// one mailbox together and keeps different mailboxes apart.
func TestCanonicalEmail(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"a@example.com", "a@example.com"},
		{"  A@Example.COM ", "a@example.com"},
		{"a+tag@example.com", "a@example.com"},
		{"a+b+c@example.com", "a@example.com"},
		{"+only@example.com", "+only@example.com"},
		{"first.last@example.com", "first.last@example.com"},
		{`"x@y"@example.com`, `"x@y"@example.com`},
	} {
		if got := canonicalEmail(c.in); got != c.want {
			t.Errorf("canonicalEmail(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestLimitsKeyOnTheClientBehindTrustedProxies: behind a trusted proxy
// each client has its own budget; X-Forwarded-For from anyone else, or
// when no proxy is trusted (the default), changes nothing.
func TestLimitsKeyOnTheClientBehindTrustedProxies(t *testing.T) {
	t.Parallel()
	limits := RateLimits{AdminFailures: ports.RateLimit{Every: time.Hour, Burst: 1}}
	const target = "/v1/admin/audit"
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		second  int // the second failure, from another client behind peer
	}{
		{"trusted proxy: two clients", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "10.0.0.5:1", http.StatusUnauthorized},
		{"untrusted peer: one client", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "198.51.100.7:1", http.StatusTooManyRequests},
		{"no trusted proxies: one client", nil, "10.0.0.5:1", http.StatusTooManyRequests},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, _ := newTestHandlerWorld(t, Options{RateLimits: &limits, Limiter: memory.NewRateLimiter(), TrustedProxies: c.trusted}, &syncBuffer{})
			if w := from(h, c.peer, "GET", target, nil, "X-Forwarded-For: 203.0.113.1"); w.Code != http.StatusUnauthorized {
				t.Fatalf("first failure: %d", w.Code)
			}
			if w := from(h, c.peer, "GET", target, nil, "X-Forwarded-For: 203.0.113.2"); w.Code != c.second {
				t.Fatalf("second failure, another forwarded client: %d, want %d", w.Code, c.second)
			}
			// A client cannot escape its budget by writing its own header.
			if w := from(h, c.peer, "GET", target, nil, "X-Forwarded-For: 192.0.2.99, 203.0.113.1"); w.Code != http.StatusTooManyRequests {
				t.Fatalf("spoofed left-most hop: %d, want 429", w.Code)
			}
		})
	}
}

// TestIdempotentRetriesSpendNoOrderBudget: a retry under the same
// Idempotency-Key is answered with the order it made, even once the
// recipient's budget is spent, and spends none of it.
func TestIdempotentRetriesSpendNoOrderBudget(t *testing.T) {
	t.Parallel()
	limits := RateLimits{OrdersPerSource: ports.RateLimit{Every: time.Hour, Burst: 2}, OrdersPerEmail: ports.RateLimit{Every: time.Hour, Burst: 1}}
	h, _ := newTestHandlerWorld(t, Options{RateLimits: &limits, Limiter: memory.NewRateLimiter()}, &syncBuffer{})
	body := []byte(`{"email":"retry@example.com","items":[{"sku":"cyberpunk-2077-gog-global","quantity":1}]}`)
	const peer = "198.51.100.20:1"
	var first placedOrder
	w := from(h, peer, "POST", "/v1/orders", body, "Idempotency-Key: order-attempt-1")
	if err := json.Unmarshal(w.Body.Bytes(), &first); err != nil || w.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	for i := range 3 {
		var again placedOrder
		w := from(h, peer, "POST", "/v1/orders", body, "Idempotency-Key: order-attempt-1")
		if err := json.Unmarshal(w.Body.Bytes(), &again); err != nil || w.Code != http.StatusCreated || again.ID != first.ID {
			t.Fatalf("retry %d: %d %s, want 201 with order %s", i, w.Code, w.Body, first.ID)
		}
	}
	// The source's second order is still in its budget of 2; the
	// recipient's is not.
	wantProblem(t, from(h, peer, "POST", "/v1/orders", body, "Idempotency-Key: order-attempt-2"), http.StatusTooManyRequests, "")
	if w := from(h, peer, "POST", "/v1/orders", []byte(`{"email":"someone@example.com","items":[{"sku":"cyberpunk-2077-gog-global","quantity":1}]}`)); w.Code != http.StatusTooManyRequests {
		t.Fatalf("third new order from the source (budget 2): %d, want 429", w.Code)
	}
}
