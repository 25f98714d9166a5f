package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/internal/testkit"
)

// brokenListener fails every Accept, as a listener whose socket the
// system took away does.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) {
	return nil, errors.New("accept: too many open files, for good")
}

// TestFailedListenerStopsTheProcess: a listener that fails while serving
// shuts the application down with a non-zero exit code instead of leaving
// a process that answers no one.
func TestFailedListenerStopsTheProcess(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	app := fx.New(fx.NopLogger,
		fx.Supply(&Listener{brokenListener{l}}, slog.New(slog.DiscardHandler)),
		fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner, l *Listener, log *slog.Logger) {
			serveHTTP(lc, sd, l, http.NotFoundHandler(), log)
		}),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	select {
	case sig := <-app.Wait():
		if sig.ExitCode == 0 {
			t.Fatalf("shut down with exit code 0 after the listener failed")
		}
	case <-ctx.Done():
		t.Fatal("the application kept running without its listener")
	}
}

// TestServeFailsWhenItsListenerFails: the process a supervisor runs
// (Serve, as `keyward serve` and `keyward worker` do) returns an error,
// so the binary exits non-zero, when its HTTP listener fails while
// serving; it never ends as a clean stop.
func TestServeFailsWhenItsListenerFails(t *testing.T) {
	t.Parallel()
	cfg := localConfig(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stderr syncLog
	err := serve(ctx, cfg, &stderr, fx.Decorate(func(l *Listener) *Listener { return &Listener{brokenListener{l.Listener}} }))
	if ctx.Err() != nil {
		t.Fatalf("Serve ran on without its listener until the test's deadline (%v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "exit code 1") {
		t.Fatalf("Serve after its listener failed = %v, want an error naming exit code 1\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "http server stopped, shutting down") {
		t.Errorf("the log does not say why the process stopped:\n%s", stderr.String())
	}
}

// TestSignalDuringStartStopsCleanly: SIGTERM that arrives while the
// process is still starting (its listener up, a later start hook still
// running) stops it cleanly, as a supervisor's stop must, instead of
// killing it by the signal's default action: the start finishes, then
// every stop hook runs and the listener closes. Not parallel: the signal
// goes to the whole test process.
func TestSignalDuringStartStopsCleanly(t *testing.T) {
	cfg := localConfig(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stderr syncLog
	var listener *Listener
	stopped := false
	late := fx.Invoke(func(lc fx.Lifecycle, l *Listener) {
		lc.Append(fx.Hook{
			// The signal lands while the start still runs.
			OnStart: func(context.Context) error {
				got := make(chan os.Signal, 1)
				signal.Notify(got, syscall.SIGTERM)
				defer signal.Stop(got)
				if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
					return err
				}
				testkit.Receive(t, got, 10*time.Second, "SIGTERM")
				return nil
			},
			OnStop: func(context.Context) error { stopped = true; return nil },
		})
	})
	if err := serve(ctx, cfg, &stderr, late, fx.Populate(&listener)); err != nil {
		t.Fatalf("Serve stopped by SIGTERM during its start = %v, want a clean stop\n%s", err, stderr.String())
	}
	if !stopped {
		t.Error("the started hooks were not stopped")
	}
	if conn, err := net.DialTimeout("tcp", listener.Addr().String(), time.Second); err == nil {
		conn.Close()
		t.Errorf("the listener at %s still accepts connections after the stop", listener.Addr())
	}
}

// localConfig is the default configuration, listening on a free loopback
// port, with its files in a directory of the test's.
func localConfig(t *testing.T) Config {
	cfg := Defaults()
	dir := t.TempDir()
	cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", filepath.Join(dir, "mail"), filepath.Join(dir, "keyring.json")
	return cfg
}
