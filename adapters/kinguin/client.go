// Package kinguin is the Kinguin eCommerce API ("ESA") supplier: catalog
// pages, single products, orders placed with our item id as their
// orderExternalId, order status, paged keys (text and base64 images), the
// balance for readiness, and the webhooks Kinguin sends. Kinguin's error
// kinds become ports.ErrSupplierTemporary (retried here with backoff,
// Retry-After honoured) or ports.ErrSupplierPermanent with a reason an
// operator can act on.
package kinguin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/supplierhttp"
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
	key   string
	cfg   Config
	api   *supplierhttp.Client
	retry supplierhttp.Retry
}

var _ ports.Supplier = (*Client)(nil)

// New returns a client; it returns an error when the API key is empty or
// the base URL is not an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	api, err := supplierhttp.NewClient("kinguin", cfg.BaseURL, "the API key goes in its own setting", cfg.HTTPClient,
		func(status int, body []byte) error { return parseError(status, body) })
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("kinguin: API key is empty")
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 100 {
		cfg.PageSize = 100
	}
	retry := supplierhttp.Retry{Attempts: cfg.MaxAttempts, Backoff: cfg.Backoff, MaxBackoff: cfg.MaxBackoff}.WithDefaults()
	return &Client{key: cfg.APIKey, cfg: cfg, api: api, retry: retry}, nil
}

// Name returns "kinguin".
func (c *Client) Name() string { return "kinguin" }

// call sends r and decodes a 2xx answer into out (when not nil), retrying
// retryable failures unless r.Once, after the Retry-After Kinguin asks for
// when it is within MaxBackoff. Errors wrap ports.ErrSupplierTemporary,
// ports.ErrSupplierPermanent or, for a 404, domain.ErrNotFound, and are
// an *APIError when Kinguin answered with one.
func (c *Client) call(ctx context.Context, r supplierhttp.Request, out any) error {
	return c.retry.Do(ctx, r.Once, func() (time.Duration, error) { return c.try(ctx, r, out) })
}

// try makes one request with the API key; asked is the Retry-After
// Kinguin answered with.
func (c *Client) try(ctx context.Context, r supplierhttp.Request, out any) (asked time.Duration, err error) {
	r.Auth = http.Header{"X-Api-Key": {c.key}}
	return c.api.Do(ctx, r, out)
}
