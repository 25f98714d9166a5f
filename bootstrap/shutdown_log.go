package bootstrap

import (
	"context"
	"errors"
	"log/slog"

	"go.uber.org/fx"
)

// quietOnStop returns log, except that once the process is stopping an
// error record whose error is context.Canceled is written at debug level:
// stopping cancels the subscribers' and pollers' work, and Watermill
// reports each cancelled poll as an error ("Error querying for message …
// context canceled"), which on a clean SIGTERM is none.
func quietOnStop(log *slog.Logger, stop *stopping) *slog.Logger {
	return slog.New(stopHandler{Handler: log.Handler(), stop: stop})
}

type stopHandler struct {
	slog.Handler
	stop *stopping
}

func (h stopHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError || !h.stop.stopped() || !canceled(r) {
		return h.Handler.Handle(ctx, r)
	}
	if !h.Handler.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	quiet := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool { quiet.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, quiet)
}

func (h stopHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return stopHandler{Handler: h.Handler.WithAttrs(attrs), stop: h.stop}
}

func (h stopHandler) WithGroup(name string) slog.Handler {
	return stopHandler{Handler: h.Handler.WithGroup(name), stop: h.stop}
}

// canceled reports whether one of r's attributes is an error caused by
// context.Canceled.
func canceled(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Resolve().Any().(error); ok && errors.Is(err, context.Canceled) {
			found = true
		}
		return !found
	})
	return found
}

// markStopping marks the process stopping as the first step of its stop
// (fx runs stop hooks in reverse order: this one is appended last), before
// any subscriber, poller or router is cancelled.
func markStopping(lc fx.Lifecycle, stop *stopping) {
	lc.Append(fx.Hook{OnStop: func(context.Context) error { stop.stop(); return nil }})
}
