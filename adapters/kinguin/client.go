// Package kinguin is the Kinguin eCommerce API ("ESA") supplier: catalog
// pages, single products, orders placed with our item id as their
// orderExternalId, order status, paged keys (text and base64 images), the
// balance for readiness, and the webhooks Kinguin sends. Kinguin's error
// kinds become ports.ErrSupplierTemporary (retried here with backoff,
// Retry-After honoured) or ports.ErrSupplierPermanent with a reason an
// operator can act on.
package kinguin

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

	"github.com/keyward/keyward/ports"
)

// DefaultBaseURL is Kinguin's production API; paths such as /v1/products
// are appended to it.
const DefaultBaseURL = "https://gateway.kinguin.net/esa/api"

// Config configures the client. Zero durations and counts take the
// defaults named beside them.
type Config struct {
	BaseURL string // DefaultBaseURL when empty
	APIKey  string // sent as X-Api-Key
	// HTTPClient defaults to a client with a 30 s timeout per request.
	HTTPClient *http.Client
	// MaxAttempts bounds the tries of one call on retryable failures
	// (default 3); what still fails returns ports.ErrSupplierTemporary.
	MaxAttempts int
	// Backoff is the first wait between tries (default 500 ms), doubled
	// each time up to MaxBackoff (default 10 s). A Retry-After above
	// MaxBackoff is not waited out here: the call fails at once and the
	// caller's slower retry takes over.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// PageSize is how many products or keys one page asks for (default
	// and maximum 100).
	PageSize int
}

// Client talks to Kinguin ESA. It is safe for concurrent use.
type Client struct {
	base  string
	key   string
	http  *http.Client
	cfg   Config
	sleep func(ctx context.Context, d time.Duration) error
}

var _ ports.Supplier = (*Client)(nil)

// New returns a client; it returns an error when the API key is empty or
// the base URL is not an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("kinguin: base URL %q is not an absolute http(s) URL", cfg.BaseURL)
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("kinguin: base URL must carry no credentials or query; the API key goes in its own setting")
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("kinguin: API key is empty")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 100 {
		cfg.PageSize = 100
	}
	return &Client{base: strings.TrimRight(cfg.BaseURL, "/"), key: cfg.APIKey, http: cfg.HTTPClient, cfg: cfg, sleep: sleep}, nil
}

// Name returns "kinguin".
func (c *Client) Name() string { return "kinguin" }

// request is one API call.
type request struct {
	method string
	path   string // appended to the base URL
	query  url.Values
	body   any
	// once: a single try (health checks, and POSTs, whose retries
	// PlaceOrder makes itself after looking the order up).
	once bool
}

// call sends r and decodes a 2xx answer into out (when not nil), retrying
// retryable failures. Errors wrap ports.ErrSupplierTemporary,
// ports.ErrSupplierPermanent or, for a 404, domain.ErrNotFound, and are
// an *APIError when Kinguin answered with one.
func (c *Client) call(ctx context.Context, r request, out any) error {
	attempts := c.cfg.MaxAttempts
	if r.once {
		attempts = 1
	}
	var err error
	for attempt := 0; ; attempt++ {
		var wait time.Duration
		wait, err = c.try(ctx, r, out)
		if err == nil || !errors.Is(err, ports.ErrSupplierTemporary) || attempt+1 >= attempts {
			return err
		}
		backoff := c.backoff(attempt)
		if wait == 0 {
			wait = backoff
		}
		if wait > c.cfg.MaxBackoff {
			return err // Kinguin asks for longer than we hold a call
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return errors.Join(err, serr)
		}
	}
}

// backoff is the wait after the attempt-th failure, with ±20% jitter so
// that many workers do not retry in step.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.Backoff << min(attempt, 16)
	d = min(d, c.cfg.MaxBackoff)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// try makes one request; wait is the Retry-After Kinguin asked for.
func (c *Client) try(ctx context.Context, r request, out any) (wait time.Duration, err error) {
	what := r.method + " " + r.path
	var body io.Reader
	if r.body != nil {
		js, err := json.Marshal(r.body)
		if err != nil {
			return 0, fmt.Errorf("kinguin %s: encode request: %w", what, err)
		}
		body = bytes.NewReader(js)
	}
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return 0, fmt.Errorf("kinguin %s: %w", what, err)
	}
	req.Header.Set("X-Api-Key", c.key)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("kinguin %s: %w", what, ctx.Err())
		}
		// Transport errors never echo the key: it travels in a header.
		return 0, fmt.Errorf("kinguin %s: %w: %v", what, ports.ErrSupplierTemporary, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return 0, fmt.Errorf("kinguin %s: %w: read response: %v", what, ports.ErrSupplierTemporary, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := parseError(resp.StatusCode, raw)
		return retryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Errorf("kinguin %s: %w", what, e)
	}
	if out == nil {
		return 0, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A proxy's error page or a truncated body: worth another try.
		return 0, fmt.Errorf("kinguin %s: %w: malformed response (HTTP %d): %v", what, ports.ErrSupplierTemporary, resp.StatusCode, err)
	}
	return 0, nil
}

// maxResponse bounds what is read of one answer: a page of 100 products
// with descriptions, or 100 image keys.
const maxResponse = 32 << 20

// retryAfter reads a Retry-After header (seconds or an HTTP date); zero
// when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
