package http

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/keyward/keyward/application"
)

type healthOutput struct {
	Body struct {
		Status string `json:"status" example:"ok" doc:"Always ok: the process answers"`
	}
}

type componentBody struct {
	Name      string  `json:"name" example:"postgres" doc:"The dependency checked: storage or postgres, keyvault, messaging, mailer, supplier, notifications"`
	Status    string  `json:"status" enum:"ok,down" doc:"down: the check failed (the cause is logged, not shown)"`
	LatencyMS float64 `json:"latency_ms" example:"1.25" doc:"How long the check took, in milliseconds"`
}

type readyBody struct {
	Status     string          `json:"status" enum:"ok,degraded" doc:"ok: every component is up; degraded: at least one is down"`
	Components []componentBody `json:"components" doc:"One entry per dependency of this process"`
}

type readyOutput struct {
	Status int
	Body   readyBody
}

func (s *Server) registerOps(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Summary: "Liveness", Tags: []string{"Ops"}, Security: publicSecurity,
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		out := &healthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Summary: "Readiness per component",
		Description: "200 when every component answers, 503 with the failing ones otherwise.", Tags: []string{"Ops"},
		Security: publicSecurity,
		Responses: map[string]*huma.Response{strconv.Itoa(http.StatusServiceUnavailable): {
			Description: "Some component is down",
			Content: map[string]*huma.MediaType{"application/json": {
				Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[readyBody](), true, ""),
			}},
		}},
	}, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
		comps, ok := s.app.Queries.CheckHealth.Handle(ctx)
		out := &readyOutput{Status: http.StatusOK}
		out.Body.Status = "ok"
		if !ok {
			out.Status, out.Body.Status = http.StatusServiceUnavailable, "degraded"
		}
		out.Body.Components = []componentBody{}
		for _, c := range comps {
			cb := componentBody{Name: c.Name, Status: "ok", LatencyMS: float64(c.Latency.Microseconds()) / 1000}
			if !c.Healthy {
				// The cause can name hosts and users: it goes to the log, not
				// to an unauthenticated endpoint.
				cb.Status = "down"
				s.log.WarnContext(ctx, "component not ready", "component", c.Name, "err", c.Error)
			}
			out.Body.Components = append(out.Body.Components, cb)
		}
		return out, nil
	})
}

// registerMetrics serves opts.Metrics at GET /metrics when it is set. Like
// /healthz it is unauthenticated: operators keep it off the public edge.
func (s *Server) registerMetrics(mux *http.ServeMux) {
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics)
	}
}

// NewOpsHandler serves the ops endpoints alone (health, readiness, metrics): a
// worker process takes no API traffic.
func NewOpsHandler(app application.App, opts Options, log *slog.Logger) http.Handler {
	opts.RateLimits = &RateLimits{} // nothing here is limited
	s := newServer(app, opts, log)
	mux := http.NewServeMux()
	cfg := apiConfig(opts)
	cfg.OpenAPIPath, cfg.DocsPath, cfg.SchemasPath = "", "", ""
	s.registerOps(humago.New(mux, cfg))
	s.registerMetrics(mux)
	return correlate(securityHeaders(plainText(mux)))
}
