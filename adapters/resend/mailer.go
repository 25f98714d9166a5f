// Package resend is a Mailer on the Resend HTTP API (POST /emails). Each
// message carries our idempotency key as Resend's Idempotency-Key, so a
// message sent twice within Resend's 24-hour window goes out once.
package resend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DefaultAPIURL is Resend's API.
const DefaultAPIURL = "https://api.resend.com"

// defaultRetryAfter is the wait assumed for a 429 without retry-after.
const defaultRetryAfter = time.Second

// Config configures a Mailer.
type Config struct {
	APIURL string // default DefaultAPIURL
	APIKey string // re_...; required
	From   string // "Name <addr>" on a domain verified at Resend
	// Client sends the requests; nil means one with a 15 s timeout.
	Client *http.Client
	// Now reads an HTTP-date retry-after; nil means time.Now.
	Now func() time.Time
}

// Mailer sends email with Resend. Safe for concurrent use.
type Mailer struct {
	base   string
	key    string
	from   string
	client *http.Client
	now    func() time.Time
}

var _ ports.Mailer = (*Mailer)(nil)

// New returns a Mailer for cfg. It returns an error when the API URL or
// the sender does not parse or the key is empty; it does not connect.
func New(cfg Config) (*Mailer, error) {
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	u, err := url.Parse(cfg.APIURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, errors.New("resend: the API URL must look like https://host[/path], without credentials or a query") // never echoed: it may carry credentials
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("resend: no API key")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("resend: from address %q: %w", cfg.From, err)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Mailer{base: strings.TrimRight(cfg.APIURL, "/"), key: cfg.APIKey, from: from.String(), client: cfg.Client, now: cfg.Now}, nil
}

// sendRequest is the body of POST /emails.
type sendRequest struct {
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	HTML    string   `json:"html,omitempty"`
	Text    string   `json:"text"` // "" opts out of a text generated from the HTML
}

// apiError is Resend's error body.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Name       string `json:"name"`
}

// Send posts m. It returns nil on any 2xx (also when Resend recognised
// the idempotency key and sent nothing again), an error wrapping
// ports.ErrMailUnavailable for a network failure, a 5xx, a 409
// concurrent_idempotent_requests or a 429 (a *ports.MailRetryError with
// retry-after), and one wrapping ports.ErrMailRejected with Resend's error
// name and message for an invalid message or any other 4xx.
func (s *Mailer) Send(ctx context.Context, m ports.Email) (ports.Receipt, error) {
	if _, err := domain.ParseEmail(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return ports.Receipt{}, fmt.Errorf("%w: resend: invalid recipient %q", ports.ErrMailRejected, m.To)
	}
	if len(m.IdempotencyKey) > 256 || strings.ContainsFunc(m.IdempotencyKey, func(r rune) bool { return r < ' ' || r > '~' }) {
		return ports.Receipt{}, fmt.Errorf("%w: resend: idempotency key %q: want at most 256 printable ASCII characters", ports.ErrMailRejected, m.IdempotencyKey)
	}
	body, err := json.Marshal(sendRequest{From: s.from, To: []string{m.To}, Subject: m.Subject, HTML: m.HTML, Text: m.Text})
	if err != nil {
		return ports.Receipt{}, fmt.Errorf("%w: resend: encode: %v", ports.ErrMailRejected, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/emails", bytes.NewReader(body))
	if err != nil {
		return ports.Receipt{}, fmt.Errorf("%w: resend: %v", ports.ErrMailRejected, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	resp, err := s.do(req)
	if err != nil {
		return ports.Receipt{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		var sent struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&sent)
		return ports.Receipt{ProviderID: sent.ID}, nil
	}
	return ports.Receipt{}, s.failure(resp)
}

// Health asks for the account's domains: it returns nil when Resend
// answers and accepts the key (a send-only key is refused there with
// restricted_api_key, which still proves it valid), and an error otherwise.
func (s *Mailer) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/domains", nil)
	if err != nil {
		return fmt.Errorf("resend: %w", err)
	}
	resp, err := s.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = s.failure(resp)
	var e *resendError
	if errors.As(err, &e) && e.status == http.StatusUnauthorized && e.name == "restricted_api_key" {
		return nil
	}
	return err
}

func (s *Mailer) do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "keyward")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: resend %s %s: %v", ports.ErrMailUnavailable, req.Method, req.URL.Path, err)
	}
	return resp, nil
}

// resendError is a refused request as Resend explains it.
type resendError struct {
	status  int
	name    string
	message string
	kind    error // ports.ErrMailUnavailable or ports.ErrMailRejected
}

func (e *resendError) Error() string {
	return fmt.Sprintf("%v: resend answered %d %s: %s", e.kind, e.status, e.name, e.message)
}

func (e *resendError) Unwrap() error { return e.kind }

// failure reads a non-2xx answer into a classified error.
func (s *Mailer) failure(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body apiError
	if json.Unmarshal(raw, &body) != nil || body.Name == "" {
		body.Name, body.Message = "unknown_error", strings.TrimSpace(string(raw))
	}
	e := &resendError{status: resp.StatusCode, name: body.Name, message: body.Message, kind: ports.ErrMailRejected}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		// A rate limit, or a daily/monthly quota: both clear with time; the
		// name says which.
		return &ports.MailRetryError{After: s.retryAfter(resp.Header), Reason: e.Error()}
	case resp.StatusCode >= 500,
		resp.StatusCode == http.StatusConflict && body.Name == "concurrent_idempotent_requests":
		e.kind = ports.ErrMailUnavailable
	}
	return e
}

// retryAfter reads retry-after (seconds or an HTTP date), else
// ratelimit-reset (seconds), else a second.
func (s *Mailer) retryAfter(h http.Header) time.Duration {
	for _, name := range []string{"Retry-After", "Ratelimit-Reset"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return max(time.Duration(n)*time.Second, defaultRetryAfter)
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(s.now()), defaultRetryAfter)
		}
	}
	return defaultRetryAfter
}
