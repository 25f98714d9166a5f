// Package http is keyward's driving HTTP adapter: the Huma v2 OpenAPI API,
// the webhook endpoints, the reveal page and the ops endpoints.
package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/keyward/keyward/application"
)

// Options configure the HTTP adapter.
type Options struct {
	Version string
	// AdminAPIKeys are the accepted admin bearer keys; only their hashes
	// are kept.
	AdminAPIKeys []string
	// PageSecret signs the reveal page's CSRF tokens.
	PageSecret []byte
	// MaxWebhookBytes bounds webhook bodies (default 64 KiB).
	MaxWebhookBytes int64
	// Extra registers more operations (e.g. sandbox helpers) on the API.
	Extra []func(huma.API)
	// RateLimits bound sensitive endpoints per client; nil means
	// DefaultRateLimits.
	RateLimits *RateLimits
}

// Server holds the API's dependencies.
type Server struct {
	app       application.App
	log       *slog.Logger
	adminKeys [][32]byte
	opts      Options
}

// NewHandler returns the complete HTTP handler and the Huma API (whose
// OpenAPI document `keyward openapi` prints).
func NewHandler(app application.App, opts Options, log *slog.Logger) (http.Handler, huma.API) {
	if opts.MaxWebhookBytes <= 0 {
		opts.MaxWebhookBytes = 64 << 10
	}
	s := &Server{app: app, log: log, opts: opts}
	for _, k := range opts.AdminAPIKeys {
		if k = strings.TrimSpace(k); k != "" {
			s.adminKeys = append(s.adminKeys, sha256.Sum256([]byte(k)))
		}
	}
	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("keyward", opts.Version)
	cfg.Info.Description = "Digital-key fulfilment: orders paid in crypto become delivered keys, exactly once."
	cfg.CreateHooks = nil // no $schema links in responses
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"orderToken": {Type: "http", Scheme: "bearer", Description: "The order's access_token, returned when the order is placed."},
		"adminKey":   {Type: "http", Scheme: "bearer", Description: "An admin API key (KEYWARD_ADMIN_API_KEYS)."},
	}
	api := humago.New(mux, cfg)
	s.registerCatalog(api)
	s.registerOrders(api)
	s.registerWebhooks(api)
	s.registerDeliveries(api)
	s.registerAdmin(api)
	s.registerAudit(api)
	s.registerOps(api)
	for _, f := range opts.Extra {
		f(api)
	}
	s.registerPage(mux)
	limits := DefaultRateLimits
	if opts.RateLimits != nil {
		limits = *opts.RateLimits
	}
	return securityHeaders(rateLimit(mux, limits)), api
}

// adminActor checks an Authorization header against the admin keys in
// constant time and names the matching key for the audit log by a short
// fingerprint of its hash ("admin:1a2b3c4d"); ok is false for no match.
func (s *Server) adminActor(authorization string) (actor string, ok bool) {
	tok, ok := bearer(authorization)
	if !ok {
		return "", false
	}
	h := sha256.Sum256([]byte(tok))
	match := -1
	for i, k := range s.adminKeys {
		if subtle.ConstantTimeCompare(h[:], k[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", false
	}
	return "admin:" + hex.EncodeToString(h[:4]), true
}

func bearer(authorization string) (string, bool) {
	const prefix = "bearer "
	if len(authorization) <= len(prefix) || !strings.EqualFold(authorization[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(authorization[len(prefix):])
	return tok, tok != ""
}

// securityHeaders sets headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/v1/deliveries/") || strings.HasPrefix(r.URL.Path, "/deliver/") || strings.HasPrefix(r.URL.Path, "/v1/orders") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
