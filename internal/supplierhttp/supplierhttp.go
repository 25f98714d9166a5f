// Package supplierhttp is the JSON-over-HTTP plumbing keyward's supplier
// clients (Kinguin, CodesWholesale) share: one request built and sent with
// its answer read up to a bound and decoded, the retries of a call with
// jittered exponential backoff and Retry-After, and the truncation of what
// a supplier says before it reaches an error or a log.
//
// What differs per supplier stays in the supplier's package: its
// credentials (sent as headers, never in the URL), its error bodies and how
// they classify (which statuses and kinds are ports.ErrSupplierTemporary,
// the only errors retried here), whether it honours Retry-After, and which
// calls are made only once.
package supplierhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/ports"
)

// DefaultMaxResponse bounds what is read of one answer when Client.Limit
// is zero: a page of 100 products with descriptions, or an order of 100
// image keys.
const DefaultMaxResponse = 32 << 20

// Client sends one supplier's API requests. Its fields are set once, before
// use; it is then safe for concurrent use.
type Client struct {
	// Name starts every error ("kinguin GET /v1/products: ...").
	Name string
	// Base is the API's base URL without a trailing slash; a request's
	// path is appended to it.
	Base string
	HTTP *http.Client
	// Limit is how many bytes of an answer are read (DefaultMaxResponse
	// when zero); the rest is left unread, so a longer 2xx answer fails to
	// decode and is retried as malformed.
	Limit int64
	// Refused turns a non-2xx answer (status and body, read up to Limit)
	// into the supplier's error; it must not return nil. The error should
	// wrap ports.ErrSupplierTemporary when the call may be tried again.
	Refused func(status int, body []byte) error
}

// NewClient returns the client of the supplier called name at baseURL,
// which must be an absolute http(s) URL carrying no credentials or query
// (hint says where the credentials go instead). hc nil takes a client with
// a 30 s timeout per request.
func NewClient(name, baseURL, hint string, hc *http.Client, refused func(status int, body []byte) error) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q is not an absolute http(s) URL", name, baseURL)
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("%s: base URL must carry no credentials or query; %s", name, hint)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{Name: name, Base: strings.TrimRight(baseURL, "/"), HTTP: hc, Refused: refused}, nil
}

// Request is one API call.
type Request struct {
	Method string
	Path   string // appended to Client.Base
	Query  url.Values
	Body   any // sent as JSON when not nil
	// Auth holds the credentials, sent as headers so that they never
	// appear in a URL or in a transport error.
	Auth http.Header
	// Once: a single try (health checks, and POSTs whose retries the
	// caller makes itself after looking the order up).
	Once bool
}

// Do makes one request and decodes a 2xx answer into out (when not nil).
// A non-2xx answer returns the error of Client.Refused and asked, what its
// Retry-After header asks for (zero when it has none). Transport errors, a
// body that cannot be read and a 2xx answer that does not decode (a
// proxy's error page, a truncated body) wrap ports.ErrSupplierTemporary;
// when ctx ends, its error is returned instead.
func (c *Client) Do(ctx context.Context, r Request, out any) (asked time.Duration, err error) {
	what := r.Method + " " + r.Path
	var body io.Reader
	if r.Body != nil {
		js, err := json.Marshal(r.Body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encode request: %w", c.Name, what, err)
		}
		body = bytes.NewReader(js)
	}
	u := c.Base + r.Path
	if len(r.Query) > 0 {
		u += "?" + r.Query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u, body)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", c.Name, what, err)
	}
	for k, vs := range r.Auth {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("%s %s: %w", c.Name, what, ctx.Err())
		}
		// Transport errors never echo the credentials: they travel in a header.
		return 0, fmt.Errorf("%s %s: %w: %v", c.Name, what, ports.ErrSupplierTemporary, err)
	}
	defer resp.Body.Close()
	limit := c.Limit
	if limit <= 0 {
		limit = DefaultMaxResponse
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w: read response: %v", c.Name, what, ports.ErrSupplierTemporary, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return RetryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Errorf("%s %s: %w", c.Name, what, c.Refused(resp.StatusCode, raw))
	}
	if out == nil {
		return 0, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A proxy's error page or a truncated body: worth another try.
		return 0, fmt.Errorf("%s %s: %w: malformed response (HTTP %d): %v", c.Name, what, ports.ErrSupplierTemporary, resp.StatusCode, err)
	}
	return 0, nil
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date); zero
// when absent, unreadable or in the past.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// ErrWaitTooLong is Retry.Pause's answer to a Retry-After longer than
// MaxBackoff: the call ends at once and the caller's slower retry takes
// over.
var ErrWaitTooLong = errors.New("the supplier asks to wait longer than a call is held")

// Retry is how one call is tried again.
type Retry struct {
	// Attempts bounds the tries of one call (one when below 1).
	Attempts int
	// Backoff is the first wait between tries, doubled after each failure
	// up to MaxBackoff, each wait with ±20% jitter so that many workers do
	// not retry in step.
	Backoff time.Duration
	// MaxBackoff is the longest wait: the backoff grows no further, and a
	// Retry-After longer than it is not waited out (ErrWaitTooLong).
	MaxBackoff time.Duration
	// Sleep waits d or until ctx ends (the package's Sleep when nil).
	Sleep func(ctx context.Context, d time.Duration) error
}

// WithDefaults returns p with each field that is zero or negative set to
// its default: 3 attempts, a first backoff of 500 ms, at most 10 s.
func (p Retry) WithDefaults() Retry {
	if p.Attempts <= 0 {
		p.Attempts = 3
	}
	if p.Backoff <= 0 {
		p.Backoff = 500 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 10 * time.Second
	}
	return p
}

// Do calls try until it succeeds, fails with an error that does not wrap
// ports.ErrSupplierTemporary, or Attempts tries have failed (one try when
// once), and returns try's last error. Between tries it pauses as Pause
// says, honouring try's asked wait (a Retry-After; zero for none). A
// Retry-After beyond MaxBackoff returns the last error at once; when ctx
// ends during a pause, the last error is joined with ctx's.
func (p Retry) Do(ctx context.Context, once bool, try func() (asked time.Duration, err error)) error {
	attempts := max(p.Attempts, 1)
	if once {
		attempts = 1
	}
	for attempt := 0; ; attempt++ {
		asked, err := try()
		if err == nil || !errors.Is(err, ports.ErrSupplierTemporary) || attempt+1 >= attempts {
			return err
		}
		if perr := p.Pause(ctx, attempt, asked); perr != nil {
			if errors.Is(perr, ErrWaitTooLong) {
				return err
			}
			return errors.Join(err, perr)
		}
	}
}

// Pause waits after the attempt-th failure (counted from zero): asked when
// the supplier asked for a wait (a Retry-After), else Delay(attempt). It
// returns ErrWaitTooLong without waiting when asked is longer than
// MaxBackoff, and ctx's error when ctx ends first.
func (p Retry) Pause(ctx context.Context, attempt int, asked time.Duration) error {
	if asked > p.MaxBackoff {
		return ErrWaitTooLong
	}
	wait := asked
	if wait <= 0 {
		wait = p.Delay(attempt)
	}
	return p.Wait(ctx, wait)
}

// Delay is the backoff after the attempt-th failure (counted from zero):
// Backoff doubled attempt times, at most MaxBackoff, with ±20% jitter.
func (p Retry) Delay(attempt int) time.Duration {
	d := p.Backoff << min(max(attempt, 0), 16)
	d = min(d, p.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Wait waits d, or until ctx ends, with p.Sleep.
func (p Retry) Wait(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// Sleep waits d, or until ctx ends and returns its error; it returns
// ctx's error at once when d is not positive.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Truncate cuts s to at most n bytes, marking the cut with "…", so that
// what a supplier sends stays short in errors and logs. It cuts between
// characters, never inside one.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
