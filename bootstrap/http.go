package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"

	khttp "github.com/keyward/keyward/adapters/http"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// Version is set at build time.
var Version = "dev"

// Listener is the HTTP listener, bound when the graph is built so the real
// address (also for port 0) is known to the links keyward emails.
type Listener struct{ net.Listener }

// HTTPModule serves the API, the reveal page and the ops endpoints.
var HTTPModule = fx.Module("http",
	fx.Provide(
		func(lc fx.Lifecycle, cfg Config) (*Listener, error) {
			return newListener(lc, "KEYWARD_HTTP_ADDR", cfg.HTTPAddr)
		},
		func(cfg Config, l *Listener) BaseURL {
			if cfg.PublicBaseURL != "" {
				return BaseURL(cfg.PublicBaseURL)
			}
			return BaseURL("http://" + l.Addr().String())
		},
		newRateLimiter,
		newAPI,
	),
	fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner, l *Listener, api API, log *slog.Logger) {
		serveHTTP(lc, sd, l, api.Handler, log)
	}),
)

// OpsHTTPModule serves a worker's ops endpoints (health, readiness,
// metrics) on KEYWARD_OPS_ADDR, by default not the API's port, so that a
// worker starts beside an API on the same machine; the links it emails
// point at the API's KEYWARD_PUBLIC_BASE_URL.
var OpsHTTPModule = fx.Module("http.ops",
	fx.Provide(
		func(lc fx.Lifecycle, cfg Config) (*Listener, error) {
			return newListener(lc, "KEYWARD_OPS_ADDR", cfg.OpsAddr)
		},
		func(cfg Config) BaseURL { return BaseURL(cfg.PublicBaseURL) },
	),
	fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner, l *Listener, app application.App, m *metrics.Metrics, log *slog.Logger) {
		serveHTTP(lc, sd, l, khttp.NewOpsHandler(app, khttp.Options{Version: Version, Metrics: m.Handler()}, log), log)
	}),
)

// newListener binds addr, the value of variable.
func newListener(lc fx.Lifecycle, variable, addr string) (*Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, listenFailure(variable, addr, err)
	}
	// Closed also when a later start step fails (Shutdown closes it on a
	// normal stop; closing twice is harmless).
	lc.Append(fx.Hook{OnStop: func(context.Context) error { _ = l.Close(); return nil }})
	return &Listener{l}, nil
}

// API is the complete handler and its OpenAPI description.
type API struct {
	Handler http.Handler
	Huma    huma.API
}

type apiParams struct {
	fx.In
	App     application.App
	Config  Config
	Base    BaseURL
	Log     *slog.Logger
	Metrics *metrics.Metrics
	Limiter ports.RateLimiter
	Extra   []func(huma.API) `group:"api"`
	Hooks   *application.Webhooks
}

func newAPI(p apiParams) API {
	cfg, log := p.Config, p.Log
	proxies, _ := cfg.Limits.trustedProxies() // validated with the configuration
	h, api := khttp.NewHandler(p.App, khttp.Options{Version: Version, PublicBaseURL: string(p.Base), AdminAPIKeys: cfg.AdminAPIKeys, PageSecret: cfg.PageSecret, Extra: p.Extra,
		RateLimits: rateLimits(cfg), Limiter: p.Limiter, TrustedProxies: proxies,
		Metrics: p.Metrics.Handler(), OnRateLimited: p.Metrics.RateLimited, OnLimiterError: p.Metrics.RateLimiterFailed, Webhooks: p.Hooks}, log)
	return API{Handler: h, Huma: api}
}

// serveHTTPFailed is the exit code of a process whose listener failed.
const serveHTTPFailed = 1

// serveHTTP serves h on l from start to stop. A listener that fails while
// serving stops the whole process with a non-zero exit: a server without
// HTTP would look alive to its supervisor while answering no one.
func serveHTTP(lc fx.Lifecycle, sd fx.Shutdowner, l *Listener, h http.Handler, log *slog.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped, shutting down", "addr", l.Addr().String(), "err", err)
					if err := sd.Shutdown(fx.ExitCode(serveHTTPFailed)); err != nil {
						log.Error("could not shut down", "err", err)
					}
				}
			}()
			log.Info("http listening", "addr", l.Addr().String())
			return nil
		},
		OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
	})
}
