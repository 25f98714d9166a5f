package bootstrap

import (
	"context"
	"log/slog"

	"github.com/keyward/keyward/ports"
)

// WithCorrelation wraps h so that every record logged with a context that
// carries a correlation id gets it as the attribute "correlation_id".
func WithCorrelation(h slog.Handler) slog.Handler { return correlationHandler{h} }

type correlationHandler struct{ slog.Handler }

func (h correlationHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := ports.CorrelationID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("correlation_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h correlationHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return correlationHandler{h.Handler.WithAttrs(as)}
}

func (h correlationHandler) WithGroup(name string) slog.Handler {
	return correlationHandler{h.Handler.WithGroup(name)}
}
