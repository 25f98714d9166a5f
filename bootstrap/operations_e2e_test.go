package bootstrap_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// statusCounts counts answers by status code, safely across goroutines.
type statusCounts struct {
	mu sync.Mutex
	m  map[int]int
}

func (s *statusCounts) add(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]int{}
	}
	s.m[code]++
}

func (s *statusCounts) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprint(s.m)
}

func (s *statusCounts) get(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[code]
}

// retrying sends a request again on 503 (honouring nothing but a deadline)
// and counts every answer; transport errors are retried too.
func retrying(t *testing.T, h *harness, counts *statusCounts, method, path string, body []byte, headers map[string]string, out any) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(method, h.base+path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := h.client.Do(req)
		if err == nil {
			var raw []byte
			raw, err = readAll(resp)
			counts.add(resp.StatusCode)
			if resp.StatusCode != http.StatusServiceUnavailable {
				if out != nil && resp.StatusCode < 300 {
					if err := json.Unmarshal(raw, out); err != nil {
						t.Errorf("%s %s: %v", method, path, err)
					}
				}
				return resp.StatusCode
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", method, path)
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s %s: still failing after a minute (%v)", method, path, err)
			return 0
		}
		time.Sleep(50 * time.Millisecond) // a client's backoff, not a wait for the server
	}
}

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			if err.Error() == "EOF" {
				return []byte(b.String()), nil
			}
			return []byte(b.String()), err
		}
	}
}

// TestConnectionsKilledDuringABurst: keyward's Postgres connections are
// terminated every 0.7 s while a burst of orders is placed and paid.
// Clients may be asked to come back (503 with Retry-After) and retry with
// their Idempotency-Key, but never get a 500, no order is made twice, and
// every order is delivered.
func TestConnectionsKilledDuringABurst(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	h := start(t, withPostgres(url))
	var skus []string
	h.firstSKU(func(p product) bool {
		if p.InStock {
			skus = append(skus, p.SKU)
		}
		return len(skus) >= 6
	})

	stop := make(chan struct{})
	var killed, rounds atomic.Int64
	kill := func() {
		var n int64
		if err := db.Get(&n, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`); err == nil {
			killed.Add(n)
		}
		rounds.Add(1)
	}
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		tick := time.NewTicker(700 * time.Millisecond)
		defer tick.Stop()
		for {
			kill()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	// At least 24 orders, and the burst lasts over three rounds of
	// terminations (at most 200 orders).
	const minOrders, maxOrders = 24, 200
	counts := &statusCounts{}
	var mu sync.Mutex
	var placed []orderResp
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= maxOrders || i >= minOrders && rounds.Load() > 3 || t.Failed() {
					return
				}
				body, _ := json.Marshal(map[string]any{"email": fmt.Sprintf("burst-%d@example.com", i), "items": []any{line(skus[int(i)%len(skus)], 1)}})
				key := map[string]string{"Idempotency-Key": fmt.Sprintf("burst-%d", i)}
				var o orderResp
				if code := retrying(t, h, counts, "POST", "/v1/orders", body, key, &o); code != http.StatusCreated {
					t.Errorf("order %d: %d", i, code)
					return
				}
				mu.Lock()
				placed = append(placed, o)
				mu.Unlock()
				var p struct {
					OrderID string `json:"order_id"`
				}
				if code := retrying(t, h, counts, "GET", "/v1/sandbox/payments/"+o.ID, nil, nil, &p); code != http.StatusOK {
					t.Errorf("sandbox payment %d: %d", i, code)
					return
				}
				ipn, sig := h.ipn(o.ID, "finished", "")
				if code := retrying(t, h, counts, "POST", "/v1/webhooks/nowpayments", ipn, map[string]string{"x-nowpayments-sig": sig}, nil); code != http.StatusOK {
					t.Errorf("IPN %d: %d", i, code)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	killer.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if killed.Load() == 0 {
		t.Fatal("no connection was terminated: the test proved nothing")
	}
	for _, o := range placed {
		h.waitStatus(o, "delivered", 90*time.Second)
	}
	if n := counts.get(http.StatusInternalServerError); n != 0 {
		t.Fatalf("%d answers were 500 (statuses %s)", n, counts)
	}
	var stored int
	if err := db.Get(&stored, `SELECT count(*) FROM orders`); err != nil || stored != len(placed) {
		t.Fatalf("%d orders stored (%v), want %d: a retried POST made a second order", stored, err, len(placed))
	}
	t.Logf("%d orders; statuses %s; %d connections terminated in %d rounds", len(placed), counts, killed.Load(), rounds.Load())
}

// TestDeadLetterReplayDeliversOnce: while the supplier fails, an order's
// fulfilment message is retried and dead-lettered (the reconciler is off);
// an operator sees it, the supplier is fixed, and replaying it (twice)
// delivers the order once: one purchase, one delivery email.
func TestDeadLetterReplayDeliversOnce(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	srv := kinguintest.New(t, 0)
	proxy := newFlakySupplier(t, srv)
	proxy.down.Store(true)
	h := startKinguin(t, srv, func(c *bootstrap.Config) {
		c.DatabaseURL = url
		c.Supplier.KinguinAPIURL = proxy.url
		c.ReconcileInterval = 0
		c.RetryMaxAttempts = 2
	})
	h.waitCatalog(1, 20*time.Second)
	const email = "dead-letter@example.com"
	o := h.placeOrder(email, line(kinguintest.ProductID, 1))
	h.pay(o)

	letter := h.waitDeadLetter(o.ID, 30*time.Second)
	if letter.Topic == "" || !strings.HasPrefix(letter.Reason, "transient") || letter.Attempts != 3 {
		t.Fatalf("dead letter %+v", letter)
	}
	proxy.down.Store(false)
	for i, want := range []bool{true, false} {
		var out struct {
			Requeued bool `json:"requeued"`
		}
		code, _, raw := h.do("POST", "/v1/admin/dead-letters/"+letter.ID+"/replay", nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, &out)
		if code != http.StatusAccepted || out.Requeued != want {
			t.Fatalf("replay %d: %d %s", i, code, raw)
		}
	}
	got := h.waitStatus(o, "delivered", 30*time.Second)
	if n := srv.Purchases(got.Items[0].ID); n != 1 {
		t.Fatalf("bought %d times, want once", n)
	}
	if n := len(h.mailsTo(email)); n != 1 {
		t.Fatalf("%d delivery emails, want 1", n)
	}
}

type deadLetterItem struct {
	ID       string `json:"id"`
	Topic    string `json:"topic"`
	OrderID  string `json:"order_id"`
	Reason   string `json:"reason"`
	Attempts int    `json:"attempts"`
}

func (h *harness) waitDeadLetter(orderID string, within time.Duration) deadLetterItem {
	h.t.Helper()
	var found deadLetterItem
	testkit.Eventually(h.t, within, "a dead letter for "+orderID, func() bool {
		var page struct {
			Items []deadLetterItem `json:"items"`
		}
		code, _, raw := h.do("GET", "/v1/admin/dead-letters?order_id="+orderID, nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, &page)
		if code != http.StatusOK {
			h.t.Fatalf("dead letters: %d %s", code, raw)
		}
		if len(page.Items) == 0 {
			return false
		}
		found = page.Items[0]
		return true
	})
	return found
}

// flakySupplier is an HTTP proxy in front of the Kinguin test server that
// answers 503 while down, and counts the order requests that reach it.
type flakySupplier struct {
	url    string
	down   atomic.Bool
	orders atomic.Int64
}

func newFlakySupplier(t *testing.T, srv *kinguintest.Server) *flakySupplier {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &flakySupplier{}
	rp := httputil.NewSingleHostReverseProxy(target)
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v2/order") {
			f.orders.Add(1)
		}
		if f.down.Load() && !strings.HasSuffix(r.URL.Path, "/products") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"kind":"ServiceUnavailable","status":503,"title":"Service Unavailable","detail":"maintenance"}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ps.Close)
	f.url = ps.URL + "/esa/api"
	return f
}

// TestSupplierOutageOpensTheBreaker: with the supplier answering 5xx,
// after a few failures the breaker opens: /readyz shows the supplier
// degraded, the orders wait, and the supplier sees a bounded number of
// calls instead of every retry of every order; once it is back, the
// orders are delivered by themselves, each bought once.
func TestSupplierOutageOpensTheBreaker(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	proxy := newFlakySupplier(t, srv)
	h := startKinguin(t, srv, func(c *bootstrap.Config) {
		c.Supplier.KinguinAPIURL = proxy.url
		c.Operations.BreakerOpenFor = time.Second
		c.ReconcileInterval = 50 * time.Millisecond
	})
	h.waitCatalog(1, 20*time.Second)
	proxy.down.Store(true)
	const n = 4
	var orders []orderResp
	for i := range n {
		o := h.placeOrder(fmt.Sprintf("outage-%d@example.com", i), line(kinguintest.ProductID, 1))
		h.pay(o)
		orders = append(orders, o)
	}
	// While the retries run, the breaker is open (between its probes,
	// each of which fails and opens it again): /readyz says so. (Checked
	// as it happens: once every retry is spent, nothing calls the
	// supplier, and the breaker waits half-open for the next call.)
	var last string
	testkit.EventuallyWith(t, 30*time.Second, func() string { return "readyz during the outage: " + last }, func() bool {
		code, _, raw := h.do("GET", "/readyz", nil, nil, nil)
		last = fmt.Sprintf("%d %s", code, raw)
		return code == http.StatusServiceUnavailable && strings.Contains(string(raw), `{"name":"breaker.supplier","status":"down"`)
	})
	for _, o := range orders {
		h.waitDeadLetter(o.ID, 30*time.Second) // every order's retries are spent
	}
	// n orders × (1 + RetryMaxAttempts) handler runs would each call the
	// supplier without the breaker; with it, 5 calls trip it and one
	// probe per open period gets through.
	if calls := proxy.orders.Load(); calls > 10 {
		t.Fatalf("%d purchase calls reached the failing supplier: a retry storm", calls)
	}
	proxy.down.Store(false)
	var waiting orderResp
	testkit.EventuallyWith(t, 60*time.Second, func() string {
		return fmt.Sprintf("order %s is %s after the supplier came back", waiting.ID, waiting.Status)
	}, func() bool {
		for _, o := range orders {
			if waiting = h.getOrder(o); waiting.Status != "delivered" {
				h.clock.Advance(2 * time.Minute) // the reconciler resumes orders untouched for a while
				return false
			}
		}
		return true
	})
	for _, o := range orders {
		if got := srv.Purchases(h.getOrder(o).Items[0].ID); got != 1 {
			t.Fatalf("order %s bought %d times", o.ID, got)
		}
	}
	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("readyz after recovery: %d %s", code, raw)
	}
}

// TestStopHandsBackInFlightWork: keyward stopping while a fulfilment waits
// between retries (the supplier is failing) does not wait out the backoff
// nor lose the message: it stops at once, and the next process, with the
// supplier back, delivers the order.
func TestStopHandsBackInFlightWork(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, both(withPostgres(url), func(c *bootstrap.Config) {
		c.SupplierFailRate = 1
		// One retry, 25 s on: the longest wait the retry settings allow
		// (half the queue's ack deadline) is 50 s.
		c.RetryMaxAttempts, c.RetryInitialDelay, c.RetryMaxDelay = 2, 25*time.Second, 25*time.Second
		c.ReconcileInterval = 0
	}))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h.placeOrder("stop@example.com", line(sku, 1))
	h.pay(o)
	h.waitItem(o, "purchasing", 20*time.Second) // the first attempt failed; the handler waits
	began := time.Now()
	h.stop()
	if took := time.Since(began); took > 15*time.Second {
		t.Fatalf("stopping took %s: it waited out the retry backoff (25 s)", took)
	}

	next := start(t, both(withPostgres(url), func(c *bootstrap.Config) { c.ReconcileInterval, c.KeyringFile = 0, h.cfg.KeyringFile }))
	next.waitStatus(o, "delivered", 60*time.Second)
	if code, _, raw := next.do("GET", "/v1/admin/dead-letters", nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, nil); code != 200 || strings.Contains(string(raw), o.ID) {
		t.Fatalf("the handed-back message was dead-lettered: %d %s", code, raw)
	}
}
