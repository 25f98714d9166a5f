package bootstrap_test

import (
	"errors"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// TestStartupFailuresNameTheVariable: each way a start fails for want of
// a service comes out, through the start `keyward serve` runs, as at most
// three lines of stderr (the log and the error cmd prints) that name the
// variable to fix, the service's address without its password, and what
// is wrong; errors.Is still sees the cause. No banner is printed.
func TestStartupFailuresNameTheVariable(t *testing.T) {
	t.Parallel()
	const password = "pw-4711-never-shown"
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	database, _ := pgtest.NewDatabase(t)
	for _, c := range []struct {
		name     string
		set      func(*bootstrap.Config)
		variable string
		want     []string // further words of the message
		cause    error    // errors.Is(err, cause), when set
	}{
		{"port in use", func(c *bootstrap.Config) { c.HTTPAddr = busy.Addr().String() },
			"KEYWARD_HTTP_ADDR", []string{busy.Addr().String(), "already in use"}, syscall.EADDRINUSE},
		{"database down", func(c *bootstrap.Config) {
			c.DatabaseURL = "postgres://keyward:" + password + "@127.0.0.1:1/keyward?sslmode=disable"
		}, "KEYWARD_DATABASE_URL", []string{"127.0.0.1:1/keyward", "down or unreachable"}, syscall.ECONNREFUSED},
		{"database malformed", func(c *bootstrap.Config) { c.DatabaseURL = "garbage" },
			"KEYWARD_DATABASE_URL", []string{"is not a Postgres URL"}, nil},
		{"nats down", func(c *bootstrap.Config) {
			c.DatabaseURL, c.Messaging.Broker, c.Messaging.NATSURL = database, bootstrap.BrokerNATS, "nats://keyward:"+password+"@127.0.0.1:1"
		}, "KEYWARD_NATS_URL", []string{"NATS at 127.0.0.1:1", "down or unreachable"}, nil},
		{"rabbitmq down", func(c *bootstrap.Config) {
			c.DatabaseURL, c.Messaging.Broker, c.Messaging.AMQPURL = database, bootstrap.BrokerAMQP, "amqp://guest:"+password+"@127.0.0.1:1/"
		}, "KEYWARD_AMQP_URL", []string{"RabbitMQ at 127.0.0.1:1", "down or unreachable"}, syscall.ECONNREFUSED},
		{"vault down", func(c *bootstrap.Config) {
			c.KeyVault, c.Vault.Token, c.Vault.Addr = "vault", password, "http://127.0.0.1:1"
		}, "VAULT_ADDR", []string{"Vault at 127.0.0.1:1", "down or unreachable"}, nil},
		{"redis down", func(c *bootstrap.Config) {
			c.Limits.Store, c.Limits.RedisURL = "redis", "redis://:"+password+"@127.0.0.1:1/0"
		}, "KEYWARD_REDIS_URL", []string{"127.0.0.1:1", "does not answer"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := bootstrap.Defaults()
			cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", t.TempDir(), filepath.Join(t.TempDir(), "keyring.json")
			c.set(&cfg)
			s := serveInTest(t, cfg, nil)
			err := s.failed(t)
			shown := strings.TrimSpace(s.stderr.String() + "\nkeyward: " + err.Error())
			if lines := strings.Count(shown, "\n") + 1; lines > 3 {
				t.Errorf("%d lines on stderr, want at most 3:\n%s", lines, shown)
			}
			for _, w := range append([]string{c.variable}, c.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the error does not say %q: %v", w, err)
				}
			}
			if strings.Contains(shown, password) {
				t.Errorf("stderr shows the password:\n%s", shown)
			}
			if c.cause != nil && !errors.Is(err, c.cause) {
				t.Errorf("errors.Is(err, %v) is false: %v", c.cause, err)
			}
			if strings.Contains(shown, "listening on") {
				t.Errorf("a start that failed printed the banner:\n%s", shown)
			}
		})
	}
}
