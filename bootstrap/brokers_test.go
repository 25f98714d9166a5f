package bootstrap_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// TestBrokerConfig: a broker or a role that cannot work stops start-up
// with a message naming the variable to set.
func TestBrokerConfig(t *testing.T) {
	t.Parallel()
	const db = "postgres://keyward@db/keyward"
	for _, c := range []struct {
		name string
		env  []string
		want string // "" when valid
	}{
		{"sql is the default, in process without a database", nil, ""},
		{"nats with a database", []string{"KEYWARD_BROKER", "nats", "KEYWARD_DATABASE_URL", db}, ""},
		{"amqp with a database", []string{"KEYWARD_BROKER", "amqp", "KEYWARD_DATABASE_URL", db}, ""},
		{"nats without a database", []string{"KEYWARD_BROKER", "nats"}, "KEYWARD_BROKER=nats needs KEYWARD_DATABASE_URL"},
		{"amqp without a database", []string{"KEYWARD_BROKER", "amqp"}, "KEYWARD_BROKER=amqp needs KEYWARD_DATABASE_URL"},
		{"unknown broker", []string{"KEYWARD_BROKER", "kafka"}, "KEYWARD_BROKER must be sql, nats or amqp"},
		{"amqp URL of another scheme", []string{"KEYWARD_BROKER", "amqp", "KEYWARD_DATABASE_URL", db, "KEYWARD_AMQP_URL", "http://rabbit:5672"}, "KEYWARD_AMQP_URL must start with amqp://"},
		{"nats URL that is no URL", []string{"KEYWARD_BROKER", "nats", "KEYWARD_DATABASE_URL", db, "KEYWARD_NATS_URL", "::"}, "KEYWARD_NATS_URL is not a URL"},
		{"a bad URL of the broker not chosen", []string{"KEYWARD_AMQP_URL", "::"}, ""},
		{"api role without a database", []string{"KEYWARD_ROLE", "api"}, "KEYWARD_ROLE=api needs KEYWARD_DATABASE_URL"},
		{"api role", []string{"KEYWARD_ROLE", "api", "KEYWARD_DATABASE_URL", db}, ""},
		{"worker without the API's address", []string{"KEYWARD_ROLE", "worker", "KEYWARD_DATABASE_URL", db}, "KEYWARD_PUBLIC_BASE_URL"},
		{"worker", []string{"KEYWARD_ROLE", "worker", "KEYWARD_DATABASE_URL", db, "KEYWARD_PUBLIC_BASE_URL", "http://127.0.0.1:8080"}, ""},
		{"a prefix", []string{"KEYWARD_BROKER_PREFIX", "staging-1."}, ""},
		{"a prefix NATS cannot name streams with", []string{"KEYWARD_BROKER_PREFIX", "a>b"}, "KEYWARD_BROKER_PREFIX may hold"},
		{"unknown role", []string{"KEYWARD_ROLE", "cron"}, "KEYWARD_ROLE must be all, api or worker"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := bootstrap.LoadConfig(env(c.env...))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// TestBrokerURLNotEchoed: a URL that does not parse is refused without
// printing it (it may carry a password).
func TestBrokerURLNotEchoed(t *testing.T) {
	t.Parallel()
	_, err := bootstrap.LoadConfig(env("KEYWARD_BROKER", "amqp", "KEYWARD_DATABASE_URL", "postgres://db/k", "KEYWARD_AMQP_URL", "ftp://u:hunter2hunter2@rabbit/"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("got %v", err)
	}
}

// TestBrokerUnreachableStopsStart: a broker that refuses keyward's
// credentials, or does not answer, stops start-up naming the variable,
// without printing the password.
func TestBrokerUnreachableStopsStart(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	for _, c := range []struct{ broker, variable string }{
		{bootstrap.BrokerAMQP, "KEYWARD_AMQP_URL"},
		{bootstrap.BrokerNATS, "KEYWARD_NATS_URL"},
	} {
		cfg := bootstrap.Defaults()
		cfg.HTTPAddr, cfg.DatabaseURL, cfg.Messaging.Broker = "127.0.0.1:0", url, c.broker
		cfg.MailDir, cfg.KeyringFile = t.TempDir(), filepath.Join(t.TempDir(), "keyring.json")
		cfg.Messaging.AMQPURL = "amqp://guest:wrong-pass-4711@127.0.0.1:5672/"
		cfg.Messaging.NATSURL = "nats://127.0.0.1:1" // nothing listens there
		app := bootstrap.New(cfg, fx.NopLogger)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := app.Start(ctx)
		cancel()
		if err == nil {
			_ = app.Stop(context.Background())
			t.Fatalf("%s: started without its broker", c.broker)
		}
		if !strings.Contains(err.Error(), c.variable) || strings.Contains(err.Error(), "wrong-pass-4711") {
			t.Errorf("%s: %v", c.broker, err)
		}
	}
	// The failed starts left no outbox listener behind, reconnecting to
	// a database the process gave up on.
	listening := func() (n int) {
		if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testkit.Eventually(t, 10*time.Second, "no outbox listener left", func() bool { return listening() == 0 })
}
