package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// toolConfig is a configuration of an operator command on a fresh
// database.
func toolConfig(t *testing.T) Config {
	t.Helper()
	url, _ := pgtest.NewDatabase(t)
	dir := t.TempDir()
	cfg := Defaults()
	cfg.DatabaseURL, cfg.KeyringFile, cfg.MailDir = url, filepath.Join(dir, "keyring.json"), filepath.Join(dir, "mail")
	return cfg
}

// quiet keeps a test's process from logging.
var quiet = fx.Decorate(func() *slog.Logger { return slog.New(slog.DiscardHandler) })

// decorations names the decorators around each port the application is
// given, outermost first.
func decorations(d application.Deps) map[string]string {
	return map[string]string{
		"orders":   fmt.Sprintf("%T", d.Orders),
		"dataKeys": fmt.Sprintf("%T", d.DataKeys),
		"mailer":   fmt.Sprintf("%T", d.Mailer),
		"supplier": fmt.Sprintf("%T", d.Suppliers[0].Supplier),
		"gateway":  fmt.Sprintf("%T", d.Gateway),
		"vault":    fmt.Sprintf("%T", d.Vault),
		"blobs":    fmt.Sprintf("%T", d.Blobs),
		"reveals":  fmt.Sprintf("%T", d.Revelations),
	}
}

// TestEveryProcessGetsTheSameDecoratedPorts: serve and an operator
// command give the application the same ports, each audited, behind its
// circuit breaker and measured where serve's are, so that a use case run
// from the shell writes and counts what it would in the server.
func TestEveryProcessGetsTheSameDecoratedPorts(t *testing.T) {
	t.Parallel()
	cfg := toolConfig(t)
	cfg.HTTPAddr = "127.0.0.1:0"

	var served application.Deps
	var hooks *application.Webhooks
	app := New(cfg, quiet, fx.Populate(&served, &hooks))
	if err := app.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := app.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	var tooled application.Deps
	if err := runTool(t.Context(), cfg, func(tool) error { return nil }, quiet, fx.Populate(&tooled)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"orders":   "application.auditedOrders",
		"dataKeys": "application.auditedDataKeys",
		"mailer":   "application.auditedMailer",
		"supplier": "bootstrap.breakerSupplier",
		"gateway":  "bootstrap.breakerGateway",
		"vault":    "bootstrap.breakerVaultFloor",
		"blobs":    "metrics.blobs",
		"reveals":  "metrics.revelations",
	}
	// The webhook use cases mail operators through the same ports.
	if got := reflect.ValueOf(hooks).Elem().FieldByName("mailer").Elem().Type().String(); got != want["mailer"] {
		t.Errorf("serve: the webhooks' mailer is a %s, want a %s", got, want["mailer"])
	}
	for name, got := range map[string]map[string]string{"serve": decorations(served), "tool": decorations(tooled)} {
		for port, w := range want {
			if got[port] != w {
				t.Errorf("%s: the application's %s port is a %s, want a %s", name, port, got[port], w)
			}
		}
	}
}

// TestToolStartFailureSaysAllOfIt: an operator command that cannot start
// prints its cause, not fx's chain of constructors that led to it, and
// prints all of it: the two-line form of a server's start-up error would
// cut a cause of more lines.
func TestToolStartFailureSaysAllOfIt(t *testing.T) {
	t.Parallel()
	t.Run("database down", func(t *testing.T) {
		t.Parallel()
		cfg := Defaults()
		cfg.DatabaseURL = "postgres://keyward@127.0.0.1:1/keyward?sslmode=disable"
		_, listErr := ListAdminKeys(t.Context(), cfg)
		_, _, migrateErr := Migrate(t.Context(), cfg, "status")
		for tool, err := range map[string]error{"admin list-keys": listErr, "migrate status": migrateErr} {
			if err == nil {
				t.Fatalf("%s worked on a database that is down", tool)
			}
			msg := err.Error()
			for _, want := range []string{"KEYWARD_DATABASE_URL", "127.0.0.1:1/keyward", "down or unreachable"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s: error %q does not say %q", tool, msg, want)
				}
			}
			for _, chain := range []string{"could not build arguments", "received non-nil error", "failed to build"} {
				if strings.Contains(msg, chain) {
					t.Errorf("%s: error %q carries fx's chain (%q)", tool, msg, chain)
				}
			}
		}
	})
	t.Run("cause of many lines", func(t *testing.T) {
		t.Parallel()
		cause := errors.New("first line\nsecond line\nthird line: what to do")
		failing := fx.Invoke(func(lc fx.Lifecycle) {
			lc.Append(fx.Hook{OnStart: func(context.Context) error { return cause }})
		})
		err := runTool(t.Context(), toolConfig(t), func(tool) error { return nil }, quiet, failing)
		if !errors.Is(err, cause) || !strings.Contains(err.Error(), cause.Error()) {
			t.Fatalf("tool start error %q, want all of %q", err, cause)
		}
		if strings.Contains(startupCause(err).Error(), "third line") {
			t.Fatal("the server's form no longer cuts the cause: this test shows nothing")
		}
	})
}

// TestPostgresRevealReadsInOneStatement: on Postgres the application's
// links, data keys and blobs, decorated as every process has them, say
// they share a database, so that a reveal reads the link, its order's data
// key and its sealed keys in one statement (ports.DeliveryLinkForReveal).
// A decorator that stopped saying so would cost every reveal two reads.
func TestPostgresRevealReadsInOneStatement(t *testing.T) {
	t.Parallel()
	var deps application.Deps
	if err := runTool(t.Context(), toolConfig(t), func(tool) error { return nil }, quiet, fx.Populate(&deps)); err != nil {
		t.Fatal(err)
	}
	if _, ok := deps.Links.(ports.DeliveryLinkForReveal); !ok {
		t.Fatalf("the links (%T) do not read for a reveal in one statement", deps.Links)
	}
	if !ports.SameStore(deps.Links, deps.DataKeys) {
		t.Errorf("the links (%T) and the data keys (%T) do not say they share a database", deps.Links, deps.DataKeys)
	}
	if !ports.SameStore(deps.Links, deps.Blobs) {
		t.Errorf("the links (%T) and the blobs (%T) do not say they share a database", deps.Links, deps.Blobs)
	}
}
