package bootstrap

import (
	"context"
	"io"
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
// The passwords of URL-valued settings are cut out of every line, since
// a driver's or client's error may quote its URL whole.
func NewLogger(cfg Config) *slog.Logger { return newLogger(cfg, os.Stderr) }

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	w = redactingWriter{w: w, secrets: cfg.urlSecrets()}
	return slog.New(WithCorrelation(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel})))
}

// RuntimeModule provides the logger, clock and id generator.
var RuntimeModule = fx.Module("runtime",
	fx.Provide(
		fx.Annotate(func() systemClock { return systemClock{} }, fx.As(new(ports.Clock))),
		fx.Annotate(func() uuidV7 { return uuidV7{} }, fx.As(new(ports.IDs))),
	),
)

// runInBackground runs fn in its own goroutine from the start of the app;
// stopping the app cancels fn's context and waits for it to return, as
// long as the stop allows.
func runInBackground(lc fx.Lifecycle, fn func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() { defer close(done); fn(ctx) }()
			return nil
		},
		OnStop: func(stop context.Context) error {
			cancel()
			select {
			case <-done:
			case <-stop.Done():
			}
			return nil
		},
	})
}

// every returns a job that calls fn each interval until its context ends.
func every(interval time.Duration, fn func(context.Context)) func(context.Context) {
	return everyAfter(interval, interval, fn)
}

// everyAfter returns a job that calls fn once first has passed (at once
// when it is 0), then each interval, until its context ends.
func everyAfter(first, interval time.Duration, fn func(context.Context)) func(context.Context) {
	return func(ctx context.Context) {
		if first > 0 {
			t := time.NewTimer(first)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		fn(ctx)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}
}
