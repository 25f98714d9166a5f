package bootstrap

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/danielgtaylor/huma/v2"

	khttp "github.com/keyward/keyward/adapters/http"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
)

// WriteOpenAPI writes the OpenAPI 3.1 document that a server of cfg serves
// at /openapi.json, byte for byte: the handler is built with the options
// that change the document (version, the base URL its servers name, the
// sandbox payment routes when the sandbox gateway is configured) and asked
// for the document in-process. Nothing is connected to or listened on:
// operations are described, never called.
func WriteOpenAPI(w io.Writer, cfg Config) error {
	var extra []func(huma.API)
	if !cfg.Payments.NOWPayments() {
		extra = append(extra, sandbox.PaymentsAPI(sandbox.NewGateway(sandbox.GatewayConfig{})))
	}
	h, _ := khttp.NewHandler(application.App{}, khttp.Options{Version: Version, PublicBaseURL: servedBaseURL(cfg),
		RateLimits: &khttp.RateLimits{}, Extra: extra}, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("describe the API: /openapi.json answered %d", rec.Code)
	}
	_, err := w.Write(rec.Body.Bytes())
	return err
}

// servedBaseURL is the base URL a server of cfg names: the public one, or
// http:// and the address its listener reports for KEYWARD_HTTP_ADDR (an
// address without a host is reported as [::], as Go's listener does).
func servedBaseURL(cfg Config) string {
	if cfg.PublicBaseURL != "" {
		return cfg.PublicBaseURL
	}
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return "http://" + cfg.HTTPAddr
	}
	if host == "" {
		host = "::"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// LocalBaseURL is where a client on this machine reaches a server of cfg
// (`keyward pay`): KEYWARD_PUBLIC_BASE_URL, or http:// and
// KEYWARD_HTTP_ADDR with a listen-on-every-interface host read as
// loopback.
func LocalBaseURL(cfg Config) string {
	if cfg.PublicBaseURL != "" {
		return cfg.PublicBaseURL
	}
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return "http://" + cfg.HTTPAddr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
