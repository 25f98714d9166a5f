package bootstrap

import (
	"context"
	"fmt"
	"io"
	"log/slog"

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
	var base BaseURL
	var listener *Listener
	app := New(cfg, append([]fx.Option{
		fx.Decorate(func() *slog.Logger { return newLogger(cfg, stderr) }),
		fx.Populate(&base, &listener),
	}, extra...)...)
	if err := app.Err(); err != nil {
		return err
	}
	start, cancel := context.WithTimeout(ctx, app.StartTimeout())
	defer cancel()
	if err := app.Start(start); err != nil {
		return err
	}
	writeBanner(stderr, cfg, "http://"+listener.Addr().String(), string(base))
	var exit int
	select {
	case sig := <-app.Wait():
		exit = sig.ExitCode
	case <-ctx.Done():
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
