// Package codeswholesale is the CodesWholesale API v3 supplier: an OAuth2
// client-credentials token (sent in the request body, standard or
// Spring-style answer, one cached per client, renewed before it expires
// and once more after a 401), catalog pages read with
// continuationToken and updatedSince, single products, orders placed with
// our item id as orderId (echoed as clientOrderId) and found again in the
// order history by it, fulfilment polled from Fulfilling to Completed,
// text, image and pre-order codes, the account balance, and the postbacks
// CodesWholesale sends. Its error codes become ports.ErrSupplierTemporary
// (retried here with backoff for reads) or ports.ErrSupplierPermanent with
// a reason an operator can act on. What the reference leaves unknown is
// read tolerantly, and what the live API sends that keyward does not know
// is logged (never a code).
package codeswholesale

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// CodesWholesale's hosts; API paths (/v3/...) and the token endpoint
// (/oauth/token) are appended to them.
const (
	SandboxURL = "https://sandbox.codeswholesale.com"
	LiveURL    = "https://api.codeswholesale.com"
)

// Config configures the client. Zero durations and counts take the
// defaults named beside them.
type Config struct {
	BaseURL      string // SandboxURL when empty
	ClientID     string
	ClientSecret string
	// HTTPClient defaults to a client with a 30 s timeout per request; the
	// token is fetched with it too.
	HTTPClient *http.Client
	// MaxAttempts bounds the tries of one read on retryable failures
	// (default 3); what still fails returns ports.ErrSupplierTemporary. A
	// purchase is posted at most once per PlaceOrder.
	MaxAttempts int
	// Backoff is the first wait between tries (default 500 ms), doubled
	// each time up to MaxBackoff (default 10 s).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// KeysWait is how long Keys polls an order still Fulfilling, with
	// backoff, before it reports the keys pending (default 15 s); the
	// reconciler asks again later.
	KeysWait time.Duration
	// History is how far back FindOrder searches the order history for our
	// external id when the purchase's start is not known (default 90
	// days); a purchase begun longer ago cannot be looked up, and returns
	// ports.ErrPurchaseUnverifiable.
	History time.Duration
	// RenewBefore renews the token this long before it expires (default
	// 60 s).
	RenewBefore time.Duration
	// Log receives what the API sends that keyward does not know (debug,
	// info); never a code. Default: discarded.
	Log *slog.Logger
	// Now is the clock of the order-history window (default time.Now).
	Now func() time.Time
}

// Client talks to CodesWholesale v3. It is safe for concurrent use.
type Client struct {
	base  string
	http  *http.Client
	cfg   Config
	log   *slog.Logger
	api   *supplierhttp.Client
	retry supplierhttp.Retry

	// The one cached token of the client's credentials; tokMu is held
	// while a new one is fetched, so concurrent callers share one fetch.
	tokMu  sync.Mutex
	tok    string
	tokExp time.Time // zero: no expiry was given

	unknown sync.Map // what noteUnknown and noteValue logged
	unclear sync.Map // external ids whose POST went unanswered
}

var (
	_ ports.Supplier        = (*Client)(nil)
	_ ports.SupplierBalance = (*Client)(nil)
)

// New returns a client; it returns an error when the client id or secret
// is empty or the base URL is not an absolute http(s) URL.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = SandboxURL
	}
	api, err := supplierhttp.NewClient("codeswholesale", cfg.BaseURL, "the client id and secret go in their own settings", cfg.HTTPClient,
		func(status int, body []byte) error { return parseError(status, body) })
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(cfg.ClientID) == "" || strings.TrimSpace(cfg.ClientSecret) == "" {
		return nil, errors.New("codeswholesale: client id or client secret is empty")
	}
	if cfg.KeysWait <= 0 {
		cfg.KeysWait = 15 * time.Second
	}
	if cfg.History <= 0 {
		cfg.History = 90 * 24 * time.Hour
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	retry := supplierhttp.Retry{Attempts: cfg.MaxAttempts, Backoff: cfg.Backoff, MaxBackoff: cfg.MaxBackoff}.WithDefaults()
	return &Client{base: api.Base, http: api.HTTP, cfg: cfg, log: cfg.Log.With("supplier", "codeswholesale"), api: api, retry: retry}, nil
}

// Name returns "codeswholesale".
func (c *Client) Name() string { return "codeswholesale" }

// dropToken forgets the cached token if it is still refused: a token
// another caller fetched meanwhile is kept.
func (c *Client) dropToken(refused string) {
	c.tokMu.Lock()
	if c.tok == refused {
		c.tok = ""
	}
	c.tokMu.Unlock()
}

// token returns the cached token, fetching one when there is none or it
// expires within RenewBefore. Callers arriving during a fetch wait for it
// and share its token.
func (c *Client) token(ctx context.Context) (string, error) {
	c.tokMu.Lock()
	defer c.tokMu.Unlock()
	if c.tok != "" && (c.tokExp.IsZero() || time.Now().Add(c.cfg.RenewBefore).Before(c.tokExp)) {
		return c.tok, nil
	}
	tok, exp, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	c.tok, c.tokExp = tok, exp
	return tok, nil
}

// tokenResponse is a token answer: standard OAuth2 (access_token,
// expires_in) or the Spring-style object some integrations see (value,
// expiration, expiresIn), preferred when present; or an OAuth error.
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	ExpiresIn        json.Number     `json:"expires_in"`
	Value            string          `json:"value"`
	Expiration       string          `json:"expiration"`
	SpringExpiresIn  json.Number     `json:"expiresIn"`
	Error            json.RawMessage `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// fetchToken asks POST /oauth/token for a client-credentials token, the
// credentials in the form body (HTTP Basic fails on CodesWholesale's
// token endpoint, and trying it first would send a failing request).
func (c *Client) fetchToken(ctx context.Context) (string, time.Time, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("codeswholesale token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", time.Time{}, fmt.Errorf("codeswholesale token: %w", ctx.Err())
		}
		return "", time.Time{}, fmt.Errorf("codeswholesale token: %w: %v", ports.ErrSupplierTemporary, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("codeswholesale token: %w: read response: %v", ports.ErrSupplierTemporary, err)
	}
	var t tokenResponse
	jerr := json.Unmarshal(raw, &t)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusRequestTimeout {
			return "", time.Time{}, fmt.Errorf("codeswholesale token: %w: %s (HTTP %d); check KEYWARD_CODESWHOLESALE_CLIENT_ID and KEYWARD_CODESWHOLESALE_CLIENT_SECRET",
				ports.ErrSupplierPermanent, oauthReason(t, raw), resp.StatusCode)
		}
		return "", time.Time{}, fmt.Errorf("codeswholesale token: %w: HTTP %d", ports.ErrSupplierTemporary, resp.StatusCode)
	}
	if jerr != nil {
		return "", time.Time{}, fmt.Errorf("codeswholesale token: %w: malformed token answer: %v", ports.ErrSupplierTemporary, jerr)
	}
	if t.Value != "" {
		exp := time.Time{}
		if at, err := time.Parse(time.RFC3339, strings.TrimSpace(t.Expiration)); err == nil {
			exp = at
		} else if n, err := t.SpringExpiresIn.Int64(); err == nil && n > 0 {
			exp = start.Add(time.Duration(n) * time.Second)
		}
		return t.Value, exp, nil
	}
	if t.AccessToken == "" {
		return "", time.Time{}, fmt.Errorf("codeswholesale token: %w: the answer holds no access_token", ports.ErrSupplierTemporary)
	}
	exp := time.Time{}
	if n, err := t.ExpiresIn.Int64(); err == nil && n > 0 {
		exp = start.Add(time.Duration(n) * time.Second)
	}
	return t.AccessToken, exp, nil
}

// oauthReason is the OAuth error of a refused token request, without the
// request's credentials.
func oauthReason(t tokenResponse, raw []byte) string {
	var code string
	if json.Unmarshal(t.Error, &code) == nil && code != "" {
		return strings.TrimSpace(code + " " + supplierhttp.Truncate(t.ErrorDescription, 200))
	}
	return supplierhttp.Truncate(string(raw), 200)
}

// call sends r and decodes a 2xx answer into out (when not nil), retrying
// retryable failures unless r.Once. Errors wrap ports.ErrSupplierTemporary,
// ports.ErrSupplierPermanent or domain.ErrNotFound, and are an *APIError
// when CodesWholesale answered with one.
func (c *Client) call(ctx context.Context, r supplierhttp.Request, out any) error {
	// A Retry-After is not read: CodesWholesale's answers are retried on
	// the backoff alone.
	return c.retry.Do(ctx, r.Once, func() (time.Duration, error) { return 0, c.authorized(ctx, r, out) })
}

// authorized makes one request with the cached token and, when
// CodesWholesale answers 401 (the token expired or was revoked early),
// once more with a new token. A 401 for that new token too is temporary:
// the credentials were just accepted, so it says nothing final about the
// call.
func (c *Client) authorized(ctx context.Context, r supplierhttp.Request, out any) error {
	for retry := 0; ; retry++ {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		err = c.try(ctx, r, tok, out)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			return err
		}
		c.dropToken(tok)
		if retry > 0 {
			c.log.WarnContext(ctx, "codeswholesale refused a fresh token", "call", r.Method+" "+r.Path)
			return fmt.Errorf("codeswholesale %s %s: %w: HTTP 401 with a token just issued", r.Method, r.Path, ports.ErrSupplierTemporary)
		}
		c.log.InfoContext(ctx, "codeswholesale refused the token: fetching a new one", "call", r.Method+" "+r.Path)
	}
}

// try makes one request with token, and logs an error answer at debug.
func (c *Client) try(ctx context.Context, r supplierhttp.Request, token string, out any) error {
	r.Auth = http.Header{"Authorization": {"Bearer " + token}}
	_, err := c.api.Do(ctx, r, out)
	if ae := (*APIError)(nil); errors.As(err, &ae) {
		c.log.DebugContext(ctx, "codeswholesale error answer", "call", r.Method+" "+r.Path, "status", ae.Status, "code", ae.Code, "message", ae.Message)
	}
	return err
}
