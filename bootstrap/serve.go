package bootstrap

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/fx"
)

// Serve runs a keyward process for cfg, the API, the workers or both as
// KEYWARD_ROLE says, until ctx ends or SIGINT or SIGTERM arrives, then
// stops it gracefully. It logs to stderr and, once the process listens
// and works, prints there what it runs (the banner). It returns the cause
// of a failed start (one or two lines naming the variable to fix), the
// error of a failed stop, or an error when the process stopped itself
// because it could not go on (its HTTP listener failed).
func Serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	return serve(ctx, cfg, stderr)
}

// serve is Serve with extra options for the application (a test's).
func serve(ctx context.Context, cfg Config, stderr io.Writer, extra ...fx.Option) error {
	// Signals are caught from the beginning, not only once the start is
	// over: the listener is up early in the start, and a supervisor may
	// stop the process as soon as it answers. A signal that comes before
	// the start is over lets it finish (a start cut short would roll back
	// with a spent context, and stop nothing), then stops what started,
	// gracefully: a clean stop.
	signals, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	var base BaseURL
	var listener *Listener
	log := newLogger(cfg, stderr)
	app := New(cfg, append([]fx.Option{
		fx.Decorate(func() *slog.Logger { return log }),
		fx.Populate(&base, &listener),
	}, extra...)...)
	if err := app.Err(); err != nil {
		return err
	}
	if signals.Err() != nil && ctx.Err() == nil {
		log.Info("stopped by a signal before starting")
		return nil
	}
	start, cancel := context.WithTimeout(ctx, app.StartTimeout())
	defer cancel()
	if err := app.Start(start); err != nil {
		return err
	}
	var exit int
	if signals.Err() != nil && ctx.Err() == nil {
		log.Info("stopped by a signal while starting")
	} else {
		writeBanner(stderr, cfg, "http://"+listener.Addr().String(), string(base))
		select {
		case sig := <-app.Wait():
			exit = sig.ExitCode
		case <-signals.Done():
		}
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), app.StopTimeout())
	defer cancel()
	if err := app.Stop(stop); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if exit != 0 {
		return fmt.Errorf("keyward stopped itself with exit code %d: its HTTP listener failed (the log above says why)", exit)
	}
	return nil
}
