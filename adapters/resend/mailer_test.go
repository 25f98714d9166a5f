package resend_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/resend"
	"github.com/keyward/keyward/ports"
)

const apiKey = "re_test_0123456789abcdef"

// fakeResend speaks Resend's POST /emails contract: bearer key, JSON body,
// Idempotency-Key honoured (same key, same payload: the first answer again,
// nothing sent), and the answers a test queues up before the normal 200.
type fakeResend struct {
	t       *testing.T
	mu      sync.Mutex
	sent    []map[string]any            // emails that went out
	headers []http.Header               // every request's headers
	byKey   map[string]string           // idempotency key -> payload
	queued  []func(http.ResponseWriter) // answers to give first
}

func newFake(t *testing.T) (*fakeResend, *httptest.Server) {
	f := &fakeResend{t: t, byKey: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeResend) queue(status int, header map[string]string, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued = append(f.queued, func(w http.ResponseWriter) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	})
}

func (f *fakeResend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.headers = append(f.headers, r.Header.Clone())
	if r.Header.Get("Authorization") != "Bearer "+apiKey {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"statusCode":401,"message":"Missing API key in the authorization header.","name":"missing_api_key"}`)
		return
	}
	if len(f.queued) > 0 {
		answer := f.queued[0]
		f.queued = f.queued[1:]
		answer(w)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/emails" {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"statusCode":404,"message":"not found","name":"not_found"}`)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &body) != nil {
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"statusCode":422,"message":"bad body","name":"validation_error"}`)
		return
	}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		if prev, ok := f.byKey[key]; ok {
			if prev != string(raw) {
				w.WriteHeader(http.StatusConflict)
				body, _ := os.ReadFile("testdata/resend-error.json")
				w.Write(body)
				return
			}
			f.answerSent(w)
			return
		}
		f.byKey[key] = string(raw)
	}
	f.sent = append(f.sent, body)
	f.answerSent(w)
}

func (f *fakeResend) answerSent(w http.ResponseWriter) {
	body, err := os.ReadFile("testdata/resend-send-email-response.json")
	if err != nil {
		f.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (f *fakeResend) sentCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func newMailer(t *testing.T, url string) *resend.Mailer {
	t.Helper()
	m, err := resend.New(resend.Config{APIURL: url, APIKey: apiKey, From: "Keyward Shop <keys@shop.example>",
		Now: func() time.Time { return time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func email() ports.Email {
	return ports.Email{
		To: "buyer@example.org", Subject: "Zahlung bestätigt",
		Text: "Your payment is confirmed.", HTML: "<p>Your payment is confirmed.</p>",
		IdempotencyKey: "payment-confirmed/o1/order.paid/1741946409000000000",
	}
}

func TestSendRequestShape(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t)
	if _, err := newMailer(t, srv.URL).Send(t.Context(), email()); err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 1 {
		t.Fatalf("%d emails sent, want 1", len(f.sent))
	}
	h := f.headers[0]
	for name, want := range map[string]string{
		"Authorization":   "Bearer " + apiKey,
		"Content-Type":    "application/json",
		"Idempotency-Key": email().IdempotencyKey,
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The body uses the documented field names and types of the reference
	// request (testdata/resend-send-email-request.json).
	var reference map[string]any
	raw, err := os.ReadFile("testdata/resend-send-email-request.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &reference); err != nil {
		t.Fatal(err)
	}
	got := f.sent[0]
	for field, value := range got {
		ref, ok := reference[field]
		if !ok {
			t.Errorf("field %q is not in the reference request", field)
			continue
		}
		if gotType, refType := jsonType(value), jsonType(ref); gotType != refType {
			t.Errorf("field %q is a %s, the reference has a %s", field, gotType, refType)
		}
	}
	want := map[string]any{
		"from": "\"Keyward Shop\" <keys@shop.example>", "to": []any{"buyer@example.org"},
		"subject": "Zahlung bestätigt", "text": "Your payment is confirmed.", "html": "<p>Your payment is confirmed.</p>",
	}
	for field, value := range want {
		if g, _ := json.Marshal(got[field]); string(g) != mustJSON(value) {
			t.Errorf("%s = %s, want %s", field, g, mustJSON(value))
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "other"
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestSameKeySendsOnce(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t)
	m := newMailer(t, srv.URL)
	for range 3 {
		if _, err := m.Send(t.Context(), email()); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.sentCount(); n != 1 {
		t.Fatalf("%d emails sent for one idempotency key, want 1", n)
	}
}

func TestRateLimitCarriesTheWait(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"retry-after seconds", map[string]string{"retry-after": "7", "ratelimit-reset": "3"}, 7 * time.Second},
		{"retry-after date", map[string]string{"retry-after": "Fri, 14 Mar 2025 10:00:30 GMT"}, 30 * time.Second},
		{"ratelimit-reset only", map[string]string{"ratelimit-reset": "4"}, 4 * time.Second},
		{"no header", nil, time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, srv := newFake(t)
			f.queue(429, c.header, `{"statusCode":429,"message":"Too many requests. You can only make 2 requests per second.","name":"rate_limit_exceeded"}`)
			m := newMailer(t, srv.URL)
			_, err := m.Send(t.Context(), email())
			var re *ports.MailRetryError
			if !errors.As(err, &re) || !errors.Is(err, ports.ErrMailUnavailable) {
				t.Fatalf("err = %v, want a MailRetryError", err)
			}
			if re.After != c.want {
				t.Errorf("wait %s, want %s", re.After, c.want)
			}
			if !strings.Contains(err.Error(), "rate_limit_exceeded") {
				t.Errorf("the error does not name the cause: %v", err)
			}
			// Retried with the same key once the wait is over: sent once.
			if _, err := m.Send(t.Context(), email()); err != nil {
				t.Fatal(err)
			}
			if f.sentCount() != 1 || f.headers[1].Get("Idempotency-Key") != email().IdempotencyKey {
				t.Errorf("the retry sent %d emails with key %q", f.sentCount(), f.headers[1].Get("Idempotency-Key"))
			}
		})
	}
}

func TestServerErrorsAreRetryable(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 503} {
		f, srv := newFake(t)
		f.queue(status, nil, `{"statusCode":500,"message":"An unexpected error occurred.","name":"internal_server_error"}`)
		_, err := newMailer(t, srv.URL).Send(t.Context(), email())
		if !errors.Is(err, ports.ErrMailUnavailable) || errors.Is(err, ports.ErrMailRejected) {
			t.Errorf("%d: err = %v, want ErrMailUnavailable", status, err)
		}
	}
	f, srv := newFake(t)
	f.queue(409, nil, `{"statusCode":409,"message":"Same idempotency key used while original request is still in progress.","name":"concurrent_idempotent_requests"}`)
	if _, err := newMailer(t, srv.URL).Send(t.Context(), email()); !errors.Is(err, ports.ErrMailUnavailable) {
		t.Errorf("concurrent idempotent request: err = %v, want ErrMailUnavailable", err)
	}
	srv.Close()
	if _, err := newMailer(t, srv.URL).Send(t.Context(), email()); !errors.Is(err, ports.ErrMailUnavailable) {
		t.Errorf("server down: err = %v, want ErrMailUnavailable", err)
	}
}

func TestClientErrorsAreFinal(t *testing.T) {
	t.Parallel()
	reference, err := os.ReadFile("testdata/resend-error.json")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		status int
		body   string
		name   string
	}{
		{409, string(reference), "invalid_idempotent_request"},
		{422, `{"statusCode":422,"message":"Invalid ` + "`from`" + ` field.","name":"invalid_from_address"}`, "invalid_from_address"},
		{403, `{"statusCode":403,"message":"The shop.example domain is not verified.","name":"validation_error"}`, "validation_error"},
		{400, `not json`, "unknown_error"},
	}
	for _, c := range cases {
		f, srv := newFake(t)
		f.queue(c.status, nil, c.body)
		_, err := newMailer(t, srv.URL).Send(t.Context(), email())
		if !errors.Is(err, ports.ErrMailRejected) || errors.Is(err, ports.ErrMailUnavailable) {
			t.Errorf("%d: err = %v, want ErrMailRejected", c.status, err)
			continue
		}
		if !strings.Contains(err.Error(), c.name) {
			t.Errorf("%d: the error does not name %s: %v", c.status, c.name, err)
		}
	}
	// A wrong key: the fake's own 401.
	_, srv := newFake(t)
	m, err := resend.New(resend.Config{APIURL: srv.URL, APIKey: "re_wrong", From: "keys@shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Send(t.Context(), email())
	if !errors.Is(err, ports.ErrMailRejected) || !strings.Contains(err.Error(), "missing_api_key") {
		t.Fatalf("wrong key: err = %v", err)
	}
	if strings.Contains(err.Error(), "re_wrong") {
		t.Errorf("the error shows the key: %v", err)
	}
}

func TestInvalidMessagesAreRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	f, srv := newFake(t)
	m := newMailer(t, srv.URL)
	long := email()
	long.IdempotencyKey = strings.Repeat("k", 257)
	nonASCII := email()
	nonASCII.IdempotencyKey = "order-received/ü"
	badTo := email()
	badTo.To = "x@y.example\r\nBcc: z@y.example"
	for _, e := range []ports.Email{long, nonASCII, badTo} {
		if _, err := m.Send(t.Context(), e); !errors.Is(err, ports.ErrMailRejected) {
			t.Errorf("err = %v, want ErrMailRejected", err)
		}
	}
	if len(f.headers) != 0 {
		t.Errorf("%d requests reached Resend", len(f.headers))
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"full access key", 200, `{"data":[]}`, true},
		{"send-only key", 401, `{"statusCode":401,"message":"This API key is restricted to only send emails.","name":"restricted_api_key"}`, true},
		{"invalid key", 403, `{"statusCode":403,"message":"API key is invalid.","name":"invalid_api_key"}`, false},
		{"outage", 503, `{"statusCode":500,"message":"boom","name":"internal_server_error"}`, false},
	}
	for _, c := range cases {
		f, srv := newFake(t)
		f.queue(c.status, nil, c.body)
		err := newMailer(t, srv.URL).Health(t.Context())
		if (err == nil) != c.ok {
			t.Errorf("%s: Health = %v, want ok %v", c.name, err, c.ok)
		}
		if f.headers[0].Get("Authorization") != "Bearer "+apiKey {
			t.Errorf("%s: no bearer key", c.name)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, c := range []resend.Config{
		{APIURL: "ftp://api.resend.com", APIKey: apiKey, From: "keys@shop.example"},
		{APIURL: "https://user:pw@api.resend.com", APIKey: apiKey, From: "keys@shop.example"},
		{APIKey: "", From: "keys@shop.example"},
		{APIKey: apiKey, From: "not an address"},
	} {
		if _, err := resend.New(c); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
}
