package bootstrap_test

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/bootstrap"
)

// TestConfigNamesTheMalformedVariable: a value that is malformed is
// reported under its own variable, before any rule combining several
// could blame another (KEYWARD_HTTP_ADDR=notanaddress was reported as a
// weak IPN secret: an unparsable address is not loopback), and the value
// of a URL setting is not echoed.
func TestConfigNamesTheMalformedVariable(t *testing.T) {
	t.Parallel()
	db := "postgres://127.0.0.1:5432/keyward"
	for _, c := range []struct {
		variable string
		env      []string
	}{
		{"KEYWARD_HTTP_ADDR", []string{"KEYWARD_HTTP_ADDR", "notanaddress"}},
		{"KEYWARD_HTTP_ADDR", []string{"KEYWARD_HTTP_ADDR", "127.0.0.1:99999"}},
		{"KEYWARD_OPS_ADDR", []string{"KEYWARD_OPS_ADDR", "nope", "KEYWARD_ROLE", "worker", "KEYWARD_DATABASE_URL", db, "KEYWARD_PUBLIC_BASE_URL", "https://keys.example.com"}},
		{"KEYWARD_PUBLIC_BASE_URL", []string{"KEYWARD_PUBLIC_BASE_URL", "keys.example.com"}},
		{"KEYWARD_PUBLIC_BASE_URL", []string{"KEYWARD_PUBLIC_BASE_URL", "ftp://keys.example.com"}},
		{"KEYWARD_DATABASE_URL", []string{"KEYWARD_DATABASE_URL", "garbage"}},
		{"VAULT_ADDR", []string{"KEYWARD_KEY_VAULT", "vault", "VAULT_TOKEN", "t", "VAULT_ADDR", "vault.internal:8200"}},
		{"KEYWARD_NATS_URL", []string{"KEYWARD_BROKER", "nats", "KEYWARD_DATABASE_URL", db, "KEYWARD_NATS_URL", "garbage"}},
		{"KEYWARD_AMQP_URL", []string{"KEYWARD_BROKER", "amqp", "KEYWARD_DATABASE_URL", db, "KEYWARD_AMQP_URL", "http://u:p@rabbit:5672/"}},
		{"KEYWARD_REDIS_URL", []string{"KEYWARD_RATE_LIMIT_STORE", "redis", "KEYWARD_REDIS_URL", "127.0.0.1:6379"}},
	} {
		_, err := bootstrap.LoadConfig(env(c.env...))
		if err == nil {
			t.Errorf("%v: accepted", c.env)
			continue
		}
		if first, _, _ := strings.Cut(err.Error(), " "); !strings.HasPrefix(first, c.variable) {
			t.Errorf("%v: the error does not start with %s: %v", c.env, c.variable, err)
		}
		if strings.Contains(err.Error(), "u:p@") {
			t.Errorf("%v: the error echoes a URL's userinfo: %v", c.env, err)
		}
	}
}

// TestConfigWorkerNeedsNoIPNSecret: a worker receives no IPNs, so the
// public dev IPN secret does not stop one whose links are public; its ops
// endpoints default to a port of their own, or KEYWARD_HTTP_ADDR where an
// older set-up gave it.
func TestConfigWorkerNeedsNoIPNSecret(t *testing.T) {
	t.Parallel()
	worker := []string{"KEYWARD_ROLE", "worker", "KEYWARD_DATABASE_URL", "postgres://127.0.0.1:5432/keyward", "KEYWARD_PUBLIC_BASE_URL", "https://keys.example.com"}
	cfg, err := bootstrap.LoadConfig(env(worker...))
	if err != nil {
		t.Fatalf("worker: %v", err)
	}
	if cfg.OpsAddr == cfg.HTTPAddr || cfg.OpsAddr != "127.0.0.1:8081" {
		t.Errorf("ops address %q beside the API's %q, want 127.0.0.1:8081", cfg.OpsAddr, cfg.HTTPAddr)
	}
	if cfg, err = bootstrap.LoadConfig(env(append(worker, "KEYWARD_HTTP_ADDR", "127.0.0.1:9100")...)); err != nil || cfg.OpsAddr != "127.0.0.1:9100" {
		t.Errorf("with KEYWARD_HTTP_ADDR: ops address %q, %v; want 127.0.0.1:9100", cfg.OpsAddr, err)
	}
	api := []string{"KEYWARD_ROLE", "api", "KEYWARD_DATABASE_URL", "postgres://127.0.0.1:5432/keyward", "KEYWARD_PUBLIC_BASE_URL", "https://keys.example.com"}
	if _, err := bootstrap.LoadConfig(env(api...)); err == nil || !strings.Contains(err.Error(), "KEYWARD_NOWPAYMENTS_IPN_SECRET") {
		t.Errorf("an API with public links and the dev IPN secret: %v, want the IPN secret refused", err)
	}
}
