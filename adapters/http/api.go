// Package http is keyward's driving HTTP adapter: the Huma v2 OpenAPI API,
// the webhook endpoints, the reveal page and the ops endpoints.
package http

import (
	"crypto/sha256"
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
	// PublicBaseURL is where clients reach the API; the OpenAPI document
	// names it as its server. Empty names "/", the host that served the
	// document (what OpenAPI assumes without servers, said explicitly).
	PublicBaseURL string
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
	s := newServer(app, opts, log)
	mux := http.NewServeMux()
	api := humago.New(mux, apiConfig(opts))
	s.register(api)
	s.registerPage(mux)
	limits := DefaultRateLimits
	if opts.RateLimits != nil {
		limits = *opts.RateLimits
	}
	return securityHeaders(rateLimit(mux, limits)), api
}

func newServer(app application.App, opts Options, log *slog.Logger) *Server {
	if opts.MaxWebhookBytes <= 0 {
		opts.MaxWebhookBytes = 64 << 10
	}
	s := &Server{app: app, log: log, opts: opts}
	for _, k := range opts.AdminAPIKeys {
		if k = strings.TrimSpace(k); k != "" {
			s.adminKeys = append(s.adminKeys, sha256.Sum256([]byte(k)))
		}
	}
	return s
}

// apiConfig describes the API: its metadata, server and security schemes.
func apiConfig(opts Options) huma.Config {
	cfg := huma.DefaultConfig("keyward", opts.Version)
	cfg.Info.Description = "Digital-key fulfilment: orders paid in crypto become delivered keys, exactly once."
	cfg.CreateHooks = nil // no $schema links in responses
	cfg.Servers = []*huma.Server{{URL: "/"}}
	if base := strings.TrimRight(opts.PublicBaseURL, "/"); base != "" {
		cfg.Servers = []*huma.Server{{URL: base}}
	}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		orderTokenScheme: {Type: "http", Scheme: "bearer", Description: "The order's access_token, returned when the order is placed."},
		adminKeyScheme:   {Type: "http", Scheme: "bearer", Description: "An admin API key (KEYWARD_ADMIN_API_KEYS)."},
	}
	return cfg
}

// register adds the authentication middleware and every operation to api;
// the middleware comes first because Huma binds it at registration.
func (s *Server) register(api huma.API) {
	api.UseMiddleware(s.authenticate(api))
	s.registerCatalog(api)
	s.registerOrders(api)
	s.registerWebhooks(api)
	s.registerSupplier(api)
	s.registerDeliveries(api)
	s.registerAdmin(api)
	s.registerAudit(api)
	s.registerOps(api)
	for _, f := range s.opts.Extra {
		f(api)
	}
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
