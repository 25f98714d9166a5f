package supplierhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// answer is one scripted answer of the supplier.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// supplier is an httptest server that gives its scripted answers in turn
// (the last one again once they run out) and records what it was sent.
type supplier struct {
	srv *httptest.Server

	mu       sync.Mutex
	answers  []answer
	requests []sent
}

// sent is what one request carried.
type sent struct {
	method, path, query string
	header              http.Header
	body                string
}

func newSupplier(t *testing.T, answers ...answer) *supplier {
	t.Helper()
	s := &supplier{answers: answers}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		n := len(s.requests)
		s.requests = append(s.requests, sent{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		a := s.answers[min(n, len(s.answers)-1)]
		s.mu.Unlock()
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *supplier) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func (s *supplier) request(i int) sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[i]
}

// refusal is the test supplier's error answer: 408, 429 and 5xx may be
// tried again, any other status is final (the classification a supplier's
// package makes for itself).
type refusal struct {
	status int
	body   string
	class  error
}

func (e *refusal) Error() string { return fmt.Sprintf("%v: HTTP %d", e.class, e.status) }
func (e *refusal) Unwrap() error { return e.class }

func refused(status int, body []byte) error {
	class := ports.ErrSupplierPermanent
	if status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500 {
		class = ports.ErrSupplierTemporary
	}
	return &refusal{status: status, body: string(body), class: class}
}

func client(s *supplier) *supplierhttp.Client {
	return &supplierhttp.Client{Name: "acme", Base: s.srv.URL, HTTP: s.srv.Client(), Refused: refused}
}

// sleeps records the waits of a Retry instead of waiting them.
type sleeps struct{ waits []time.Duration }

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func retry(s *sleeps, attempts int, backoff, maxBackoff time.Duration) supplierhttp.Retry {
	return supplierhttp.Retry{Attempts: attempts, Backoff: backoff, MaxBackoff: maxBackoff, Sleep: s.sleep}
}

// call is a client's call: one request tried again as p says.
func call(ctx context.Context, c *supplierhttp.Client, p supplierhttp.Retry, r supplierhttp.Request, out any) error {
	return p.Do(ctx, r.Once, func() (time.Duration, error) { return c.Do(ctx, r, out) })
}

type item struct {
	ID string `json:"id"`
}

func TestDoSendsJSONWithCredentialsInHeadersAndDecodesTheAnswer(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: http.StatusCreated, body: `{"id":"o-1"}`})
	var got item
	r := supplierhttp.Request{Method: http.MethodPost, Path: "/v1/order", Query: url.Values{"page": {"2"}},
		Body: map[string]any{"orderExternalId": "item-1", "qty": 1}, Auth: http.Header{"X-Api-Key": {"secret-key"}}}
	if _, err := client(s).Do(t.Context(), r, &got); err != nil || got.ID != "o-1" {
		t.Fatalf("Do = %+v, %v; want o-1", got, err)
	}
	req := s.request(0)
	if req.method != http.MethodPost || req.path != "/v1/order" || req.query != "page=2" {
		t.Errorf("sent %s %s?%s, want POST /v1/order?page=2", req.method, req.path, req.query)
	}
	if req.header.Get("X-Api-Key") != "secret-key" || req.header.Get("Accept") != "application/json" || req.header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v: want the key, Accept and Content-Type JSON", req.header)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(req.body), &body); err != nil || body["orderExternalId"] != "item-1" || body["qty"] != 1.0 {
		t.Errorf("body %q (%v), want the request as JSON", req.body, err)
	}
	if strings.Contains(req.path+"?"+req.query, "secret-key") {
		t.Errorf("the key is in the URL %s?%s", req.path, req.query)
	}

	if _, err := client(s).Do(t.Context(), supplierhttp.Request{Method: http.MethodGet, Path: "/v1/balance"}, nil); err != nil {
		t.Fatal(err)
	}
	if req := s.request(1); req.header.Get("Content-Type") != "" || req.body != "" {
		t.Errorf("a request without a body sent Content-Type %q and body %q", req.header.Get("Content-Type"), req.body)
	}
}

func TestA429IsRetriedAfterItsRetryAfter(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: http.StatusTooManyRequests, retryAfter: "3", body: `{"error":"slow down"}`}, answer{status: 200, body: `{"id":"p-1"}`})
	var sl sleeps
	var got item
	err := call(t.Context(), client(s), retry(&sl, 3, 10*time.Millisecond, 5*time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/products"}, &got)
	if err != nil || got.ID != "p-1" {
		t.Fatalf("call = %+v, %v; want p-1 after the 429", got, err)
	}
	if s.count() != 2 || len(sl.waits) != 1 || sl.waits[0] != 3*time.Second {
		t.Errorf("%d requests, waits %v; want 2 and one wait of exactly 3s (the Retry-After, not the backoff)", s.count(), sl.waits)
	}
}

// TestRetryAfterIsHonouredUpToMaxBackoff: a Retry-After of MaxBackoff is
// waited out; a longer one ends the call at once with the 429's error.
func TestRetryAfterIsHonouredUpToMaxBackoff(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		retryAfter string
		requests   int
		waits      []time.Duration
	}{
		{"10", 2, []time.Duration{10 * time.Second}},
		{"11", 1, nil},
		{"3600", 1, nil},
	} {
		t.Run(c.retryAfter, func(t *testing.T) {
			t.Parallel()
			s := newSupplier(t, answer{status: http.StatusTooManyRequests, retryAfter: c.retryAfter}, answer{status: 200, body: `{}`})
			var sl sleeps
			err := call(t.Context(), client(s), retry(&sl, 3, 10*time.Millisecond, 10*time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, &item{})
			if s.count() != c.requests || fmt.Sprint(sl.waits) != fmt.Sprint(c.waits) {
				t.Fatalf("%d requests, waits %v; want %d and %v", s.count(), sl.waits, c.requests, c.waits)
			}
			var rf *refusal
			switch {
			case c.requests == 2 && err != nil:
				t.Errorf("call = %v, want success after the wait", err)
			case c.requests == 1 && (!errors.Is(err, ports.ErrSupplierTemporary) || !errors.As(err, &rf) || rf.status != http.StatusTooManyRequests):
				t.Errorf("call = %v, want the 429's temporary error", err)
			}
		})
	}
}

func TestRetryAfterReadsSecondsAndDates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := supplierhttp.RetryAfter(c.v, now); got != c.want {
			t.Errorf("RetryAfter(%q) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestServerErrorsAreRetriedWithGrowingBackoff(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: 503, body: "<html>bad gateway</html>"}, answer{status: 500}, answer{status: 200, body: `{"id":"k"}`})
	var sl sleeps
	var got item
	err := call(t.Context(), client(s), retry(&sl, 3, 100*time.Millisecond, time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/order/1"}, &got)
	if err != nil || got.ID != "k" || s.count() != 3 {
		t.Fatalf("call = %+v, %v after %d requests; want k after 3", got, err, s.count())
	}
	if len(sl.waits) != 2 || !within(sl.waits[0], 100*time.Millisecond) || !within(sl.waits[1], 200*time.Millisecond) {
		t.Errorf("waits %v, want about 100ms then 200ms (±20%%)", sl.waits)
	}
}

// within reports whether d is want with at most ±20% jitter.
func within(d, want time.Duration) bool {
	return d >= want*8/10 && d <= want*12/10
}

func TestBackoffDoublesUpToMaxBackoff(t *testing.T) {
	t.Parallel()
	p := supplierhttp.Retry{Backoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second}
	for attempt, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		for range 50 {
			if d := p.Delay(attempt); !within(d, want) {
				t.Fatalf("Delay(%d) = %v, want %v ±20%%", attempt, d, want)
			}
		}
	}
	if d := p.Delay(200); !within(d, 10*time.Second) {
		t.Errorf("Delay(200) = %v: a late attempt must not overflow past MaxBackoff", d)
	}
}

func TestRetriesStopAfterAttempts(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: 502})
	var sl sleeps
	err := call(t.Context(), client(s), retry(&sl, 3, time.Millisecond, time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, nil)
	var rf *refusal
	if !errors.Is(err, ports.ErrSupplierTemporary) || !errors.As(err, &rf) || rf.status != 502 {
		t.Fatalf("call = %v, want the last 502", err)
	}
	if s.count() != 3 || len(sl.waits) != 2 {
		t.Errorf("%d requests, %d waits; want 3 and 2", s.count(), len(sl.waits))
	}
	if !strings.HasPrefix(err.Error(), "acme GET /v1/x: ") {
		t.Errorf("error %q does not name the supplier and the call", err)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, status := range []int{400, 401, 403, 404, 409, 422} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			s := newSupplier(t, answer{status: status, body: `{"kind":"ConstraintViolation"}`}, answer{status: 200, body: `{}`})
			var sl sleeps
			err := call(t.Context(), client(s), retry(&sl, 3, time.Millisecond, time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, &item{})
			var rf *refusal
			if !errors.Is(err, ports.ErrSupplierPermanent) || !errors.As(err, &rf) || rf.status != status || rf.body != `{"kind":"ConstraintViolation"}` {
				t.Fatalf("call = %v, want the supplier's final refusal with its body", err)
			}
			if s.count() != 1 || len(sl.waits) != 0 {
				t.Errorf("%d requests, %d waits; want 1 and none", s.count(), len(sl.waits))
			}
		})
	}
}

func TestOnceMakesASingleTry(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: 503}, answer{status: 200, body: `{}`})
	var sl sleeps
	err := call(t.Context(), client(s), retry(&sl, 3, time.Millisecond, time.Second), supplierhttp.Request{Method: "POST", Path: "/v2/order", Once: true}, &item{})
	if !errors.Is(err, ports.ErrSupplierTemporary) || s.count() != 1 || len(sl.waits) != 0 {
		t.Fatalf("call = %v after %d requests and %d waits; want the 503 after one request", err, s.count(), len(sl.waits))
	}
}

func TestMalformedAnswersAreRetried(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: 200, body: `{"id": `}, answer{status: 200, body: `not json`}, answer{status: 200, body: `{"id":"x"}`})
	var sl sleeps
	var got item
	if err := call(t.Context(), client(s), retry(&sl, 3, time.Millisecond, time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, &got); err != nil || got.ID != "x" {
		t.Fatalf("call = %+v, %v; want x after two malformed answers", got, err)
	}
	if s.count() != 3 {
		t.Errorf("%d requests, want 3", s.count())
	}
}

// failingTransport fails its first n round trips as a dropped connection
// does, then passes them on.
type failingTransport struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := f.n > 0
	f.n--
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

func TestTransportErrorsAreRetried(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: 200, body: `{"id":"y"}`})
	c := client(s)
	c.HTTP = &http.Client{Transport: &failingTransport{n: 2, next: s.srv.Client().Transport}}
	var sl sleeps
	var got item
	r := supplierhttp.Request{Method: "GET", Path: "/v1/x", Auth: http.Header{"X-Api-Key": {"secret-key"}}}
	if err := call(t.Context(), c, retry(&sl, 3, time.Millisecond, time.Second), r, &got); err != nil || got.ID != "y" || len(sl.waits) != 2 {
		t.Fatalf("call = %+v, %v after %d waits; want y after two dropped connections", got, err, len(sl.waits))
	}

	c.HTTP = &http.Client{Transport: &failingTransport{n: 5, next: s.srv.Client().Transport}}
	err := call(t.Context(), c, retry(&sl, 2, time.Millisecond, time.Second), r, &got)
	if !errors.Is(err, ports.ErrSupplierTemporary) || !strings.Contains(err.Error(), "acme GET /v1/x") || strings.Contains(err.Error(), "secret-key") {
		t.Errorf("call = %v, want a temporary error naming the call and not the key", err)
	}
}

// TestAnswersAreReadUpToTheLimit: no more than Limit bytes of an answer
// are read; a 2xx answer cut there does not decode and is temporary.
func TestAnswersAreReadUpToTheLimit(t *testing.T) {
	t.Parallel()
	long := `{"id":"` + strings.Repeat("a", 1000) + `"}`
	s := newSupplier(t, answer{status: 200, body: long})
	c := client(s)
	c.Limit = 64
	var sl sleeps
	err := call(t.Context(), c, retry(&sl, 2, time.Millisecond, time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, &item{})
	if !errors.Is(err, ports.ErrSupplierTemporary) || !strings.Contains(err.Error(), "malformed response") || s.count() != 2 {
		t.Errorf("call = %v after %d requests; want a malformed, temporary answer tried twice", err, s.count())
	}

	s = newSupplier(t, answer{status: 400, body: strings.Repeat("e", 1000)})
	c = client(s)
	c.Limit = 64
	_, err = c.Do(t.Context(), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, nil)
	var rf *refusal
	if !errors.As(err, &rf) || len(rf.body) != 64 {
		t.Errorf("Refused was given %d bytes (%v), want 64", len(rf.body), err)
	}

	s = newSupplier(t, answer{status: 200, body: long})
	var got item
	if _, err := client(s).Do(t.Context(), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, &got); err != nil || len(got.ID) != 1000 {
		t.Errorf("Do with the default limit = %d bytes, %v; want the whole answer", len(got.ID), err)
	}
}

// TestCancellationStopsTheRetries: when the context ends during a wait,
// the call returns at once with the last error and the context's; a
// context already ended sends nothing and is not retried.
func TestCancellationStopsTheRetries(t *testing.T) {
	t.Parallel()
	s := newSupplier(t, answer{status: 503})
	ctx, cancel := context.WithCancel(t.Context())
	p := supplierhttp.Retry{Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour,
		Sleep: func(ctx context.Context, d time.Duration) error {
			cancel() // the caller gives up while the call waits an hour
			return supplierhttp.Sleep(ctx, d)
		}}
	done := make(chan error, 1)
	go func() { done <- call(ctx, client(s), p, supplierhttp.Request{Method: "GET", Path: "/v1/x"}, nil) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ports.ErrSupplierTemporary) {
			t.Errorf("call = %v, want the 503 joined with context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call still waits after its context was cancelled")
	}
	if s.count() != 1 {
		t.Errorf("%d requests, want 1: no try after the cancel", s.count())
	}

	var sl sleeps
	err := call(ctx, client(s), retry(&sl, 5, time.Millisecond, time.Second), supplierhttp.Request{Method: "GET", Path: "/v1/x"}, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ports.ErrSupplierTemporary) || len(sl.waits) != 0 || s.count() != 1 {
		t.Errorf("call with an ended context = %v after %d waits, %d requests; want context.Canceled, nothing sent", err, len(sl.waits), s.count())
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"too long by far", 7, "too lon…"},
		{"prix: 5€ net", 8, "prix: 5…"}, // the cut would fall inside "€"
		{"€€", 4, "€…"},
	} {
		if got := supplierhttp.Truncate(c.s, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestNewClientRefusesABaseURLThatIsNotPlainHTTP(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"gateway.example/api", "ftp://gateway.example/api", "https://", "https://user:pass@gateway.example/api", "https://gateway.example/api?key=k"} {
		if c, err := supplierhttp.NewClient("acme", base, "the key goes in its own setting", nil, refused); err == nil {
			t.Errorf("NewClient(%q) = %+v, want an error", base, c)
		} else if strings.Contains(err.Error(), "pass") || strings.Contains(err.Error(), "key=k") {
			t.Errorf("NewClient(%q) = %v: the error repeats the credentials", base, err)
		}
	}
	c, err := supplierhttp.NewClient("acme", "https://gateway.example/api/", "", nil, refused)
	if err != nil || c.Base != "https://gateway.example/api" || c.HTTP == nil || c.HTTP.Timeout != 30*time.Second || c.Name != "acme" {
		t.Fatalf("NewClient = %+v, %v; want the base without its slash and a 30 s client", c, err)
	}
}

func TestRetryDefaults(t *testing.T) {
	t.Parallel()
	if got, want := (supplierhttp.Retry{}).WithDefaults(), (supplierhttp.Retry{Attempts: 3, Backoff: 500 * time.Millisecond, MaxBackoff: 10 * time.Second}); got.Attempts != want.Attempts || got.Backoff != want.Backoff || got.MaxBackoff != want.MaxBackoff {
		t.Errorf("defaults %+v, want %+v", got, want)
	}
	set := supplierhttp.Retry{Attempts: 1, Backoff: time.Millisecond, MaxBackoff: time.Second}.WithDefaults()
	if set.Attempts != 1 || set.Backoff != time.Millisecond || set.MaxBackoff != time.Second {
		t.Errorf("WithDefaults changed set fields: %+v", set)
	}
}

func TestSleepOfNothingReportsAnEndedContext(t *testing.T) {
	t.Parallel()
	if err := supplierhttp.Sleep(t.Context(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for range 20 {
		if err := supplierhttp.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep(0) on a cancelled context = %v, want context.Canceled", err)
		}
	}
}
