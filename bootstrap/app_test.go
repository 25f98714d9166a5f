package bootstrap_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/ports"
)

// TestGraphs validates the dependency graph for every adapter choice.
func TestGraphs(t *testing.T) {
	t.Parallel()
	for name, mod := range map[string]func(*bootstrap.Config){
		"embedded defaults": func(*bootstrap.Config) {},
		"postgres":          func(c *bootstrap.Config) { c.DatabaseURL = "postgres://localhost/x" },
		"kinguin": func(c *bootstrap.Config) {
			c.Supplier = bootstrap.SupplierConfig{SupplierKinds: "kinguin", KinguinAPIURL: "https://gateway.kinguin.net/esa/api", KinguinAPIKey: "k", KinguinWebhookSecret: "dev-hook"}
		},
		"postgres + vault": func(c *bootstrap.Config) {
			c.DatabaseURL, c.KeyVault, c.Vault.Token = "postgres://localhost/x", "vault", "t"
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := bootstrap.Defaults()
			mod(&cfg)
			if err := fx.ValidateApp(bootstrap.Options(cfg)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAppStartsAndStops runs the embedded-default graph under fxtest.
func TestAppStartsAndStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", filepath.Join(dir, "mail"), filepath.Join(dir, "k.json")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var catalog ports.CatalogRepository
	app := fxtest.New(t, bootstrap.Options(cfg), fx.Populate(&catalog))
	app.RequireStart()
	ps, err := catalog.List(t.Context(), "", 100)
	if err != nil || len(ps) < 10 {
		t.Fatalf("catalog synced at start: %d products (%v)", len(ps), err)
	}
	app.RequireStop()
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cfg, err := bootstrap.LoadConfig(env())
	if err != nil || cfg.HTTPAddr != "127.0.0.1:8080" || cfg.MailDir != "./var/mail" || cfg.LinkTTL != 15*time.Minute || cfg.KeyVault != "local" {
		t.Fatalf("defaults: %+v %v", cfg, err)
	}
	cfg, err = bootstrap.LoadConfig(env("KEYWARD_ADMIN_API_KEYS", " key-a, key-b ,,", "KEYWARD_DELIVERY_LINK_TTL", "1h", "VAULT_TOKEN", "v", "KEYWARD_VAULT_TOKEN", "k"))
	if err != nil || len(cfg.AdminAPIKeys) != 2 || cfg.AdminAPIKeys[1] != "key-b" || cfg.LinkTTL != time.Hour || cfg.Vault.Token != "k" {
		t.Fatalf("parsed: %+v %v", cfg, err)
	}
	for _, bad := range [][2]string{
		{"KEYWARD_DELIVERY_LINK_TTL", "soon"}, {"KEYWARD_DELIVERY_LINK_MAX_REVEALS", "0"}, {"KEYWARD_KEY_VAULT", "hsm"},
		{"KEYWARD_CATALOG_MARGIN", "-1"}, {"KEYWARD_LOG_LEVEL", "loud"}, {"KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE", "2"},
	} {
		if _, err := bootstrap.LoadConfig(env(bad[0], bad[1])); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("%s=%s: %v", bad[0], bad[1], err)
		}
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_HTTP_ADDR", "0.0.0.0:8080")); err == nil || !strings.Contains(err.Error(), "KEYWARD_NOWPAYMENTS_IPN_SECRET") {
		t.Errorf("public listener with the dev IPN secret: %v", err)
	}
	const strong = "a-secret-of-24-characters"
	if _, err := bootstrap.LoadConfig(env("KEYWARD_HTTP_ADDR", "0.0.0.0:8080", "KEYWARD_NOWPAYMENTS_IPN_SECRET", strong)); err != nil {
		t.Errorf("public listener with a real secret: %v", err)
	}
	// Short secrets are refused beyond loopback, accepted on it.
	for _, c := range []struct {
		env  []string
		name string
	}{
		{[]string{"KEYWARD_HTTP_ADDR", "0.0.0.0:8080", "KEYWARD_NOWPAYMENTS_IPN_SECRET", "dev-ipn"}, "KEYWARD_NOWPAYMENTS_IPN_SECRET"},
		{[]string{"KEYWARD_PUBLIC_BASE_URL", "https://keys.example.com", "KEYWARD_NOWPAYMENTS_IPN_SECRET", "fifteen-chars!!"}, "KEYWARD_NOWPAYMENTS_IPN_SECRET"},
		{[]string{"KEYWARD_HTTP_ADDR", "0.0.0.0:8080", "KEYWARD_NOWPAYMENTS_IPN_SECRET", strong, "KEYWARD_ADMIN_API_KEYS", strong + ",x"}, "KEYWARD_ADMIN_API_KEYS"},
	} {
		if _, err := bootstrap.LoadConfig(env(c.env...)); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%v: %v, want an error naming %s", c.env, err, c.name)
		}
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_NOWPAYMENTS_IPN_SECRET", "dev-ipn", "KEYWARD_ADMIN_API_KEYS", "dev-admin")); err != nil {
		t.Errorf("short secrets on loopback (development): %v", err)
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_PUBLIC_BASE_URL", "https://keys.example.com")); err == nil || !strings.Contains(err.Error(), "KEYWARD_NOWPAYMENTS_IPN_SECRET") {
		t.Errorf("public base URL behind a proxy with the dev IPN secret: %v", err)
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_RETRY_MAX_ATTEMPTS", "12", "KEYWARD_RETRY_MAX_DELAY", "45s")); err == nil || !strings.Contains(err.Error(), "ack deadline") {
		t.Errorf("a retry budget over the ack deadline: %v", err)
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_RECONCILE_STALE_AFTER", "0s")); err == nil {
		t.Errorf("zero stale-after accepted")
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_KEY_VAULT", "vault")); err == nil || !strings.Contains(err.Error(), "VAULT_TOKEN") {
		t.Errorf("vault without token: %v", err)
	}
}
