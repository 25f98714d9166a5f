package bootstrap

import (
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/keyward/keyward/ports"
)

// systemClock is the wall clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now().UTC() }

// uuidV7 makes time-ordered UUIDv7 ids.
type uuidV7 struct{}

func (uuidV7) NewID() string { return uuid.Must(uuid.NewV7()).String() }

// NewLogger returns the JSON logger used everywhere. Keys never reach it:
// no use case logs key material, and errors never include it. Lines
// logged with a request's or message's context carry its correlation id.
func NewLogger(cfg Config) *slog.Logger {
	return slog.New(WithCorrelation(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))
}

// RuntimeModule provides the logger, clock and id generator.
var RuntimeModule = fx.Module("runtime",
	fx.Provide(
		fx.Annotate(func() systemClock { return systemClock{} }, fx.As(new(ports.Clock))),
		fx.Annotate(func() uuidV7 { return uuidV7{} }, fx.As(new(ports.IDs))),
	),
)
