// Package http is keyward's driving HTTP adapter: the Huma v2 OpenAPI API,
// the webhook endpoints, the reveal page and the ops endpoints.
package http

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
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
	// Limiter keeps the budgets of RateLimits (in this process, or shared
	// by every instance); required when a limit is on.
	Limiter ports.RateLimiter
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (clientAddress); none by default.
	TrustedProxies []netip.Prefix
	// Metrics, when set, is served at GET /metrics.
	Metrics http.Handler
	// OnRateLimited, when set, is told of each request a rate limit
	// rejected, with the limiter's name ("ip", "token", "webhook",
	// "admin_auth", "order_source", "order_email", "customer_access_source",
	// "customer_access_email").
	OnRateLimited func(limiter string)
	// OnLimiterError, when set, is told each time a limiter's store could
	// not answer and the request was let through.
	OnLimiterError func(limiter string)
	// Webhooks, when set, serves the outbound webhook operations (they are
	// described either way, and answer 503 without it).
	Webhooks *application.Webhooks
}

// Server holds the API's dependencies.
type Server struct {
	app       application.App
	log       *slog.Logger
	adminKeys [][32]byte
	opts      Options
	limits    RateLimits
	limiter   ports.RateLimiter
}

// NewHandler returns the complete HTTP handler and the Huma API (whose
// OpenAPI document `keyward openapi` prints).
func NewHandler(app application.App, opts Options, log *slog.Logger) (http.Handler, huma.API) {
	s := newServer(app, opts, log)
	mux := http.NewServeMux()
	api := humago.New(mux, apiConfig(opts))
	s.register(api)
	s.registerPage(mux)
	s.registerAccountPage(mux)
	s.registerDocs(mux, "keyward API", "/openapi.yaml")
	s.registerMetrics(mux)
	// Described whether or not Metrics is set: every keyward process serves
	// it, and `keyward openapi` describes the server without building one.
	describePlainRoutes(api)
	describeAccountRoutes(api)
	describeClaimForm(api)
	return correlate(resolveClient(securityHeaders(canonicalPath(plainText(s.limitDeliveries(openAPI30(mux, api))))), opts.TrustedProxies)), api
}

// newServer panics when a limit is on and no Limiter keeps it: a
// programmer error of the wiring.
func newServer(app application.App, opts Options, log *slog.Logger) *Server {
	if opts.MaxWebhookBytes <= 0 {
		opts.MaxWebhookBytes = 64 << 10
	}
	s := &Server{app: app, log: log, opts: opts, limits: DefaultRateLimits, limiter: opts.Limiter}
	if opts.RateLimits != nil {
		s.limits = *opts.RateLimits
	}
	if s.limiter == nil && s.limits.anyOn() {
		panic("keyward http: rate limits are on but Options.Limiter is nil")
	}
	if opts.OnRateLimited == nil {
		s.opts.OnRateLimited = func(string) {}
	}
	if opts.OnLimiterError == nil {
		s.opts.OnLimiterError = func(string) {}
	}
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
	cfg.DocsPath = ""     // Huma's page loads its UI from a CDN; docs.go serves an embedded one
	cfg.Transformers = append(cfg.Transformers, boundProblem)
	cfg.Servers = []*huma.Server{{URL: "/"}}
	if base := strings.TrimRight(opts.PublicBaseURL, "/"); base != "" {
		cfg.Servers = []*huma.Server{{URL: base}}
	}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		orderTokenScheme:      {Type: "http", Scheme: "bearer", Description: "The order's access_token, returned when the order is placed."},
		customerSessionScheme: {Type: "http", Scheme: "bearer", Description: "A signed-in customer's access_token, from POST /v1/customer/sessions."},
		adminKeyScheme: {Type: "http", Scheme: "bearer", Description: "An admin API key (`keyward admin create-key`, or KEYWARD_ADMIN_API_KEYS). " +
			"The scopes of an operation's requirement are the roles allowed to call it (admin, support)."},
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
	s.registerCustomer(api)
	s.registerClaims(api)
	s.registerAdmin(api)
	s.registerDeadLetters(api)
	s.registerWebhookAdmin(api)
	s.registerAudit(api)
	s.registerOps(api)
	for _, f := range s.opts.Extra {
		f(api)
	}
	documentRateLimits(api)
	documentAdminRoles(api)
	documentExamples(api)
}

// documentRateLimits adds the 429 the rate limits answer (outside the
// operations' own handlers) to the operations they guard: webhooks, after
// failed verifications; admin operations, after failed authentications.
func documentRateLimits(api huma.API) {
	for path, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Delete, item.Patch} {
			if op == nil || op.Responses["429"] != nil || op.Responses["401"] == nil {
				continue
			}
			if strings.HasPrefix(path, "/v1/webhooks/") || requires(op, adminKeyScheme) {
				r := *op.Responses["401"]
				r.Description = "Too Many Requests: wait Retry-After seconds"
				op.Responses["429"] = &r
			}
		}
	}
}

// securityHeaders sets headers every response should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Delivery and order answers carry tokens and order details; admin
		// answers (the audit export) carry emails and IPs: no cache keeps them.
		if strings.HasPrefix(r.URL.Path, "/v1/deliveries/") || strings.HasPrefix(r.URL.Path, "/deliver/") ||
			strings.HasPrefix(r.URL.Path, "/v1/orders") || strings.HasPrefix(r.URL.Path, "/v1/admin/") ||
			strings.HasPrefix(r.URL.Path, "/v1/customer/") || strings.HasPrefix(r.URL.Path, "/account") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
