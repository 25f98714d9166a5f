// Command vault-dev runs a real HashiCorp Vault server (in-memory storage,
// already initialised and unsealed) for local development and tests, much
// like `vault server -dev`, without needing a Vault binary.
//
// It embeds Vault v1.19.0's own core and HTTP handler. The transit secrets
// engine is registered but NOT mounted, just as with `vault server -dev`:
// callers mount it themselves (POST /v1/sys/mounts/transit {"type":"transit"}).
//
// Once listening it prints `VAULT_ADDR=http://HOST:PORT` on stdout (last line)
// so callers started with `-addr 127.0.0.1:0` can find the chosen port.
//
// Flags (and environment defaults):
//
//	-addr       listen address, loopback only (VAULT_DEV_ADDR, default 127.0.0.1:8200)
//	-token      root token id (VAULT_DEV_ROOT_TOKEN_ID, default "root")
//	-log-level  Vault log level (VAULT_DEV_LOG_LEVEL, default "warn")
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/builtin/logical/transit"
	"github.com/hashicorp/vault/helper/namespace"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/internalshared/configutil"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
	"github.com/hashicorp/vault/version"
)

// stderr is the real standard error, saved before run() briefly redirects
// os.Stderr (see below).
var stderr = os.Stderr

func main() {
	os.Exit(run())
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run() int {
	addr := flag.String("addr", envOr("VAULT_DEV_ADDR", "127.0.0.1:8200"), "loopback `host:port` to listen on (port 0 picks a free one); env VAULT_DEV_ADDR")
	rootID := flag.String("token", envOr("VAULT_DEV_ROOT_TOKEN_ID", "root"), "root token `id`; env VAULT_DEV_ROOT_TOKEN_ID")
	level := flag.String("log-level", envOr("VAULT_DEV_LOG_LEVEL", "warn"), "Vault log `level` (trace, debug, info, warn, error); env VAULT_DEV_LOG_LEVEL")
	flag.Parse()

	if err := checkLoopback(*addr); err != nil {
		fmt.Fprintln(stderr, "vault-dev:", err)
		return 2
	}
	lvl := hclog.LevelFromString(*level)
	if lvl == hclog.NoLevel {
		fmt.Fprintf(stderr, "vault-dev: unknown log level %q\n", *level)
		return 2
	}
	if *rootID == "" {
		fmt.Fprintln(stderr, "vault-dev: -token must not be empty")
		return 2
	}

	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "vault-dev",
		Level:  lvl,
		Output: stderr,
	})

	tb := &devTB{logger: logger}
	// Always run Vault's registered cleanups (core shutdown) on the way out.
	defer tb.runCleanups()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "vault-dev: listen:", err)
		return 1
	}
	defer ln.Close()

	// In-memory storage, initialised and unsealed, root policy available.
	// Vault's test helpers give the storage layer their own trace-level
	// logger bound to whatever os.Stderr is at creation time; point it at
	// /dev/null meanwhile so only our warn-level logger reaches stderr.
	core, initialRoot := func() (*vault.Core, string) {
		if devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
			os.Stderr = devNull
			// devNull stays open: the storage logger keeps writing to it.
			defer func() { os.Stderr = stderr }()
		}
		core, _, root := vault.TestCoreUnsealedWithConfig(tb, &vault.CoreConfig{
			Logger: logger,
			LogicalBackends: map[string]logical.Factory{
				"transit": transit.Factory,
			},
		})
		return core, root
	}()

	ctx := namespace.RootContext(context.Background())
	if err := createRootToken(ctx, core, initialRoot, *rootID); err != nil {
		fmt.Fprintln(stderr, "vault-dev:", err)
		return 1
	}

	listenAddr := ln.Addr().String()
	srv := &http.Server{
		Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{
			Core: core,
			ListenerConfig: &configutil.Listener{
				Type:    "tcp",
				Address: listenAddr,
			},
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	fmt.Fprintf(stderr, "vault-dev: Vault v%s dev server (in-memory, unsealed) on %s; root token %q; transit not mounted\n",
		version.GetVersion().VersionNumber(), listenAddr, *rootID)
	fmt.Printf("VAULT_ADDR=http://%s\n", listenAddr)

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	select {
	case <-sigCtx.Done():
		fmt.Fprintln(stderr, "vault-dev: shutting down")
	case err := <-serveErr:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(stderr, "vault-dev: serve:", err)
			return 1
		}
	}
	stop() // a second signal now kills the process the default way

	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		fmt.Fprintln(stderr, "vault-dev: http shutdown:", err)
	}
	return 0
}

// checkLoopback refuses to expose a dev server (known root token, no TLS)
// anywhere but on a loopback interface.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bad -addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: host must be a loopback IP or localhost", addr)
	}
	return nil
}

// createRootToken makes a root token with a fixed id, as `vault server -dev`
// does, then revokes the random initial root token.
func createRootToken(ctx context.Context, core *vault.Core, initialRoot, id string) error {
	resp, err := core.HandleRequest(ctx, &logical.Request{
		Operation:   logical.UpdateOperation,
		Path:        "auth/token/create",
		ClientToken: initialRoot,
		Data: map[string]interface{}{
			"id":                id,
			"policies":          []string{"root"},
			"no_parent":         true,
			"no_default_policy": true,
			"display_name":      "root",
		},
	})
	if err == nil && resp != nil && resp.IsError() {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("create root token %q: %w", id, err)
	}
	if resp == nil || resp.Auth == nil || resp.Auth.ClientToken != id {
		return fmt.Errorf("create root token %q: unexpected response %#v", id, resp)
	}
	resp, err = core.HandleRequest(ctx, &logical.Request{
		Operation:   logical.UpdateOperation,
		Path:        "auth/token/revoke-self",
		ClientToken: initialRoot,
	})
	if err == nil && resp != nil && resp.IsError() {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("revoke initial root token: %w", err)
	}
	return nil
}

// devTB satisfies testing.TB for Vault's TestCore* helpers outside `go test`.
// The embedded interface is nil: only the methods below are implemented, and
// those are the ones the helpers used here call (Helper, Cleanup, Name,
// Failed, Log, Logf, Fatal, Fatalf, Skip) plus the remaining error/skip
// reporting ones for safety. Any other method would panic on the nil
// interface.
type devTB struct {
	testing.TB

	logger hclog.Logger

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (t *devTB) Helper()      {}
func (t *devTB) Name() string { return "vault-dev" }

func (t *devTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// runCleanups runs the registered cleanups last-in first-out, like testing.
func (t *devTB) runCleanups() {
	for {
		t.mu.Lock()
		n := len(t.cleanups)
		if n == 0 {
			t.mu.Unlock()
			return
		}
		f := t.cleanups[n-1]
		t.cleanups = t.cleanups[:n-1]
		t.mu.Unlock()
		f()
	}
}

func (t *devTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *devTB) Log(args ...any) { t.logger.Debug(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (t *devTB) Logf(format string, args ...any) {
	t.logger.Debug(fmt.Sprintf(format, args...))
}

func (t *devTB) Error(args ...any) { t.Errorf("%s", strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (t *devTB) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.logger.Error(fmt.Sprintf(format, args...))
}

func (t *devTB) Fail() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed = true
}

// FailNow, Fatal and Fatalf end the process: there is no test to stop.
func (t *devTB) FailNow() {
	t.Fail()
	fmt.Fprintln(stderr, "vault-dev: fatal error during Vault setup")
	os.Exit(1)
}

func (t *devTB) Fatal(args ...any) {
	t.Fatalf("%s", strings.TrimSuffix(fmt.Sprintln(args...), "\n"))
}

func (t *devTB) Fatalf(format string, args ...any) {
	t.Fail()
	fmt.Fprintf(stderr, "vault-dev: fatal: %s\n", fmt.Sprintf(format, args...))
	os.Exit(1)
}

func (t *devTB) Skip(args ...any)                 { t.Fatal(append([]any{"skip:"}, args...)...) }
func (t *devTB) Skipf(format string, args ...any) { t.Fatalf("skip: "+format, args...) }
func (t *devTB) SkipNow()                         { t.Fatal("skip") }
func (t *devTB) Skipped() bool                    { return false }
