package bootstrap_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/ports"
)

// env returns a lookup over the given name/value pairs.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestConfigDefaults pins every default, so moving them into struct tags
// changed none.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	want := bootstrap.Config{
		HTTPAddr:          "127.0.0.1:8080",
		OpsAddr:           "127.0.0.1:8081",
		MailDir:           "./var/mail",
		MailFrom:          "keyward <keys@keyward.localhost>",
		IPNSecret:         bootstrap.DevIPNSecret,
		LinkTTL:           15 * time.Minute,
		LinkMaxReveals:    5,
		ResendLimit:       5,
		ResendWindow:      time.Hour,
		KeyVault:          "local",
		KeyringFile:       "./var/keyring.json",
		CatalogMargin:     decimal.RequireFromString("0.10"),
		LogLevel:          slog.LevelInfo,
		RetryMaxAttempts:  5,
		RetryInitialDelay: 200 * time.Millisecond,
		RetryMaxDelay:     5 * time.Second,
		ReconcileInterval: 30 * time.Second,
		ReconcileAfter:    time.Minute,
		DeliveryRateLimit: true,
		QueuePartitions:   4,
		SupplierStock:     1,
		Vault:             bootstrap.VaultConfig{Addr: "http://127.0.0.1:8200", Mount: "transit", Key: "keyward", CreateKey: true},
		Blobs:             bootstrap.BlobConfig{S3Region: "auto"},
		Audit:             bootstrap.AuditConfig{CheckpointInterval: time.Hour},
		Supplier: bootstrap.SupplierConfig{SupplierKinds: "sandbox", KinguinAPIURL: "https://gateway.kinguin.net/esa/api",
			CodesWholesale: bootstrap.CodesWholesaleConfig{CodesWholesaleAPIURL: "https://sandbox.codeswholesale.com"}},
		Payments:  bootstrap.PaymentsConfig{PaymentsGateway: "sandbox", NOWPaymentsAPIURL: "https://api.nowpayments.io", NOWPaymentsPayCurrency: "btc"},
		Mail:      bootstrap.MailConfig{Mailer: "maildir", ResendAPIURL: "https://api.resend.com"},
		Messaging: bootstrap.MessagingConfig{Broker: "sql", NATSURL: "nats://127.0.0.1:4222", AMQPURL: "amqp://guest:guest@127.0.0.1:5672/", Role: "all"},
		Stock:     bootstrap.StockConfig{PriceGuardWait: 30 * time.Minute},
		Catalog:   bootstrap.CatalogConfig{SyncInterval: time.Hour, PriceEnding: ".99"},
		Operations: bootstrap.OperationsConfig{PaymentTimeout: time.Hour, DeliverySLO: 10 * time.Minute, GiveUp: 30 * time.Minute, LinkRetention: 720 * time.Hour, QueueRetention: 168 * time.Hour, QueuePrune: 10 * time.Minute, PreorderGrace: 48 * time.Hour,
			SweepInterval: time.Minute, ShutdownTimeout: 20 * time.Second, BreakerOpenFor: 10 * time.Second},
		Tuning: bootstrap.TuningConfig{QueueWakeup: true, QueueBatchSize: 10, QueueFallbackPoll: time.Second, AuditSealPass: time.Second, AuditSealGather: 20 * time.Millisecond, DatabaseConns: 40},
		Limits: bootstrap.LimitsConfig{Store: "memory",
			OrdersSource: bootstrap.Rate{RateLimit: ports.RateLimit{Every: 100 * time.Millisecond, Burst: 600}},
			OrdersEmail:  bootstrap.Rate{RateLimit: ports.RateLimit{Every: 2 * time.Minute, Burst: 5}}},
		Customer: bootstrap.CustomerConfig{CustomerLinkTTL: 30 * time.Minute, CustomerSessionTTL: 30 * time.Minute,
			CustomerAccessSource: bootstrap.Rate{RateLimit: ports.RateLimit{Every: 30 * time.Second, Burst: 20}},
			CustomerAccessEmail:  bootstrap.Rate{RateLimit: ports.RateLimit{Every: 10 * time.Minute, Burst: 3}},
			ClaimWindow:          14 * 24 * time.Hour, MaxReplacements: 1},
		Webhooks: bootstrap.WebhookConfig{SecretOverlap: 24 * time.Hour, RetrySchedule: "5s,5m,30m,2h,5h,10h,10h", Timeout: 10 * time.Second,
			DisableAfter: 120 * time.Hour, Retention: 720 * time.Hour},
	}
	got := bootstrap.Defaults()
	if !got.Stock.MinMargin.IsZero() {
		t.Errorf("minimum margin %s, want 0", got.Stock.MinMargin)
	}
	got.Stock.MinMargin, want.Stock.MinMargin = decimal.Zero, decimal.Zero
	if !got.Catalog.PriceFee.IsZero() {
		t.Errorf("price fee %s, want 0", got.Catalog.PriceFee)
	}
	got.Catalog.PriceFee, want.Catalog.PriceFee = decimal.Zero, decimal.Zero
	if !got.CatalogMargin.Equal(want.CatalogMargin) {
		t.Errorf("margin %s, want %s", got.CatalogMargin, want.CatalogMargin)
	}
	got.CatalogMargin, want.CatalogMargin = decimal.Zero, decimal.Zero
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults\n got %+v\nwant %+v", got, want)
	}
	loaded, err := bootstrap.LoadConfig(env())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, bootstrap.Defaults()) {
		t.Errorf("an empty environment loads %+v, not the defaults", loaded)
	}
}

// TestConfigParsesEveryVariable sets each variable and reads it back.
func TestConfigParsesEveryVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  []string
		want func(c bootstrap.Config) bool
	}{
		{[]string{"KEYWARD_HTTP_ADDR", " 127.0.0.1:9 "}, func(c bootstrap.Config) bool { return c.HTTPAddr == "127.0.0.1:9" }},
		{[]string{"KEYWARD_HTTP_ADDR", "  "}, func(c bootstrap.Config) bool { return c.HTTPAddr == "127.0.0.1:8080" }},
		{[]string{"KEYWARD_PUBLIC_BASE_URL", "http://localhost:1"}, func(c bootstrap.Config) bool { return c.PublicBaseURL == "http://localhost:1" }},
		{[]string{"KEYWARD_MAIL_DIR", "/m"}, func(c bootstrap.Config) bool { return c.MailDir == "/m" }},
		{[]string{"KEYWARD_MAIL_FROM", "a <a@b>"}, func(c bootstrap.Config) bool { return c.MailFrom == "a <a@b>" }},
		{[]string{"KEYWARD_NOWPAYMENTS_IPN_SECRET", "ipn"}, func(c bootstrap.Config) bool { return c.IPNSecret == "ipn" }},
		{[]string{"KEYWARD_ADMIN_API_KEYS", " key-a, key-b ,,"}, func(c bootstrap.Config) bool { return reflect.DeepEqual(c.AdminAPIKeys, []string{"key-a", "key-b"}) }},
		{[]string{"KEYWARD_DELIVERY_LINK_TTL", "1h"}, func(c bootstrap.Config) bool { return c.LinkTTL == time.Hour }},
		{[]string{"KEYWARD_DELIVERY_LINK_MAX_REVEALS", "9"}, func(c bootstrap.Config) bool { return c.LinkMaxReveals == 9 }},
		{[]string{"KEYWARD_RESEND_LIMIT", "2"}, func(c bootstrap.Config) bool { return c.ResendLimit == 2 }},
		{[]string{"KEYWARD_RESEND_WINDOW", "10m"}, func(c bootstrap.Config) bool { return c.ResendWindow == 10*time.Minute }},
		{[]string{"KEYWARD_KEY_VAULT", "vault", "VAULT_TOKEN", "t"}, func(c bootstrap.Config) bool { return c.KeyVault == "vault" }},
		{[]string{"KEYWARD_KEYRING_FILE", "/k.json"}, func(c bootstrap.Config) bool { return c.KeyringFile == "/k.json" }},
		{[]string{"KEYWARD_CATALOG_MARGIN", "0.25"}, func(c bootstrap.Config) bool { return c.CatalogMargin.Equal(decimal.RequireFromString("0.25")) }},
		{[]string{"KEYWARD_MIN_MARGIN", "1.50"}, func(c bootstrap.Config) bool { return c.Stock.MinMargin.Equal(decimal.RequireFromString("1.5")) }},
		{[]string{"KEYWARD_PRICE_GUARD_WAIT", "5m"}, func(c bootstrap.Config) bool { return c.Stock.PriceGuardWait == 5*time.Minute }},
		{[]string{"KEYWARD_SANDBOX_SUPPLIER_LATENCY", "3ms"}, func(c bootstrap.Config) bool { return c.SupplierLatency == 3*time.Millisecond }},
		{[]string{"KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE", "20"}, func(c bootstrap.Config) bool { return c.SupplierStock == 20 }},
		{[]string{"KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE", "0.5"}, func(c bootstrap.Config) bool { return c.SupplierFailRate == 0.5 }},
		{[]string{"KEYWARD_RETRY_MAX_ATTEMPTS", "2"}, func(c bootstrap.Config) bool { return c.RetryMaxAttempts == 2 }},
		{[]string{"KEYWARD_RETRY_INITIAL_DELAY", "1s"}, func(c bootstrap.Config) bool { return c.RetryInitialDelay == time.Second }},
		{[]string{"KEYWARD_RETRY_MAX_DELAY", "2s"}, func(c bootstrap.Config) bool { return c.RetryMaxDelay == 2*time.Second }},
		{[]string{"KEYWARD_RECONCILE_INTERVAL", "0"}, func(c bootstrap.Config) bool { return c.ReconcileInterval == 0 }},
		{[]string{"KEYWARD_RECONCILE_STALE_AFTER", "5m"}, func(c bootstrap.Config) bool { return c.ReconcileAfter == 5*time.Minute }},
		{[]string{"KEYWARD_DELIVERY_RATE_LIMIT", "false"}, func(c bootstrap.Config) bool { return !c.DeliveryRateLimit }},
		{[]string{"KEYWARD_PAGE_SECRET", "page"}, func(c bootstrap.Config) bool { return string(c.PageSecret) == "page" }},
		{[]string{"KEYWARD_LOG_LEVEL", "DEBUG"}, func(c bootstrap.Config) bool { return c.LogLevel == slog.LevelDebug }},
		{[]string{"KEYWARD_DATABASE_URL", "postgres://h/db"}, func(c bootstrap.Config) bool { return c.DatabaseURL == "postgres://h/db" }},
		{[]string{"KEYWARD_MIGRATE_ON_START", "1"}, func(c bootstrap.Config) bool { return c.MigrateOnStart }},
		{[]string{"KEYWARD_QUEUE_PARTITIONS", "8"}, func(c bootstrap.Config) bool { return c.QueuePartitions == 8 }},
		{[]string{"VAULT_ADDR", "https://v:8200"}, func(c bootstrap.Config) bool { return c.Vault.Addr == "https://v:8200" }},
		{[]string{"VAULT_TOKEN", "v"}, func(c bootstrap.Config) bool { return c.Vault.Token == "v" }},
		{[]string{"VAULT_TOKEN", "v", "KEYWARD_VAULT_TOKEN", "k"}, func(c bootstrap.Config) bool { return c.Vault.Token == "k" }},
		{[]string{"VAULT_TOKEN", "v", "KEYWARD_VAULT_TOKEN", " "}, func(c bootstrap.Config) bool { return c.Vault.Token == "v" }},
		{[]string{"KEYWARD_VAULT_TRANSIT_MOUNT", "tr"}, func(c bootstrap.Config) bool { return c.Vault.Mount == "tr" }},
		{[]string{"KEYWARD_VAULT_TRANSIT_KEY", "k2"}, func(c bootstrap.Config) bool { return c.Vault.Key == "k2" }},
		{[]string{"KEYWARD_VAULT_CREATE_KEY", "false"}, func(c bootstrap.Config) bool { return !c.Vault.CreateKey }},
		{[]string{"VAULT_CACERT", "/ca"}, func(c bootstrap.Config) bool { return c.Vault.CACert == "/ca" }},
		{[]string{"VAULT_CLIENT_CERT", "/cc"}, func(c bootstrap.Config) bool { return c.Vault.ClientCert == "/cc" }},
		{[]string{"VAULT_CLIENT_KEY", "/ck"}, func(c bootstrap.Config) bool { return c.Vault.ClientKey == "/ck" }},
		{[]string{"VAULT_SKIP_VERIFY", "true"}, func(c bootstrap.Config) bool { return c.Vault.SkipVerify }},
	}
	for _, tt := range tests {
		c, err := bootstrap.LoadConfig(env(tt.env...))
		if err != nil || !tt.want(c) {
			t.Errorf("%q: %+v %v", tt.env, c, err)
		}
	}
}

// TestConfigBadValuesNameTheVariable: an unparsable value is reported with
// its variable, the value and what was expected; every one, not the first.
func TestConfigBadValuesNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value, want string }{
		{"KEYWARD_DELIVERY_LINK_TTL", "banana", "a duration"},
		{"KEYWARD_DELIVERY_LINK_MAX_REVEALS", "many", "an integer"},
		{"KEYWARD_DELIVERY_RATE_LIMIT", "sometimes", "true or false"},
		{"KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE", "half", "a number"},
		{"KEYWARD_CATALOG_MARGIN", "ten", "a decimal"},
		{"KEYWARD_LOG_LEVEL", "loud", "debug, info, warn or error"},
		{"VAULT_SKIP_VERIFY", "perhaps", "true or false"},
	}
	var all []string
	for _, tt := range tests {
		_, err := bootstrap.LoadConfig(env(tt.name, tt.value))
		if err == nil {
			t.Errorf("%s=%s accepted", tt.name, tt.value)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tt.name+`="`+tt.value+`"`) || !strings.Contains(msg, tt.want) {
			t.Errorf("%s=%s: unclear error %q", tt.name, tt.value, msg)
		}
		all = append(all, tt.name, tt.value)
	}
	_, err := bootstrap.LoadConfig(env(all...))
	for _, tt := range tests {
		if err == nil || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("with every bad value at once, %s is not named: %v", tt.name, err)
		}
	}
}

// TestLoadConfigIsPure: loading twice gives the same Config, and no page
// secret appears that was not configured.
func TestLoadConfigIsPure(t *testing.T) {
	t.Parallel()
	a, errA := bootstrap.LoadConfig(env())
	b, errB := bootstrap.LoadConfig(env())
	if errA != nil || errB != nil || !reflect.DeepEqual(a, b) || len(a.PageSecret) != 0 {
		t.Fatalf("two loads differ or invent a page secret: %x %x (%v, %v)", a.PageSecret, b.PageSecret, errA, errB)
	}
	if err := a.Validate(); err != nil || len(a.PageSecret) != 0 {
		t.Fatalf("Validate changed the config: %x (%v)", a.PageSecret, err)
	}
}

// TestConfigPageSecretInGraph: the graph fills in a random page secret when
// none is configured and keeps a configured one.
func TestConfigPageSecretInGraph(t *testing.T) {
	t.Parallel()
	provided := func(secret []byte) []byte {
		dir := t.TempDir()
		cfg := bootstrap.Defaults()
		cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", filepath.Join(dir, "mail"), filepath.Join(dir, "k.json")
		cfg.PageSecret = secret
		var got bootstrap.Config
		app := fxtest.New(t, bootstrap.Options(cfg, fx.NopLogger), fx.Populate(&got))
		app.RequireStart()
		app.RequireStop()
		return got.PageSecret
	}
	random := provided(nil)
	if len(random) != 32 || bytes.Equal(random, make([]byte, 32)) {
		t.Errorf("unset page secret: got %x, want 32 random bytes", random)
	}
	if other := provided(nil); bytes.Equal(random, other) {
		t.Errorf("two processes share the random page secret %x", other)
	}
	if got := provided([]byte("configured")); string(got) != "configured" {
		t.Errorf("configured page secret replaced by %x", got)
	}
}

// TestConfigSettingsMaskSecrets: no secret value reaches the settings
// `keyward config` prints, while every variable is listed with its source.
func TestConfigSettingsMaskSecrets(t *testing.T) {
	t.Parallel()
	secrets := []string{
		"KEYWARD_NOWPAYMENTS_IPN_SECRET", "ipn-s3cret",
		"KEYWARD_ADMIN_API_KEYS", "admin-s3cret-1,admin-s3cret-2",
		"KEYWARD_PAGE_SECRET", "page-s3cret",
		"KEYWARD_VAULT_TOKEN", "vault-s3cret",
		"VAULT_CLIENT_KEY", "/etc/client-s3cret.key",
		"KEYWARD_VAULT_TRANSIT_KEY", "transit-s3cret",
		"KEYWARD_DATABASE_URL", "postgres://keyward:db-s3cret@db.example:5432/keyward?sslmode=disable&sslpassword=ssl-s3cret",
	}
	lookup := env(append(secrets, "KEYWARD_MAIL_DIR", "/mail", "VAULT_TOKEN", "ignored-s3cret")...)
	cfg, err := bootstrap.ParseConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	settings := bootstrap.Settings(cfg, lookup)
	if len(settings) != len(bootstrap.ConfigVariables()) {
		t.Fatalf("%d settings for %d variables", len(settings), len(bootstrap.ConfigVariables()))
	}
	sources := map[string]string{}
	for _, s := range settings {
		sources[s.Name] = s.Source
		if strings.Contains(s.Value, "s3cret") {
			t.Errorf("%s shows a secret: %q", s.Name, s.Value)
		}
		if s.Name == "KEYWARD_DATABASE_URL" && !strings.Contains(s.Value, "keyward:xxxxx@db.example:5432/keyward") {
			t.Errorf("database URL lost more than its password: %q", s.Value)
		}
	}
	for name, want := range map[string]string{
		"KEYWARD_MAIL_DIR": "environment", "KEYWARD_VAULT_TOKEN": "environment", "KEYWARD_HTTP_ADDR": "default", "VAULT_CACERT": "unset",
	} {
		if sources[name] != want {
			t.Errorf("%s came from %q, want %q", name, sources[name], want)
		}
	}
	fallback := env("VAULT_TOKEN", "t")
	c, _ := bootstrap.ParseConfig(fallback)
	for _, s := range bootstrap.Settings(c, fallback) {
		if s.Name == "KEYWARD_VAULT_TOKEN" && s.Source != "environment (VAULT_TOKEN)" {
			t.Errorf("token from VAULT_TOKEN reported as %q", s.Source)
		}
	}
}

// TestConfigDatabaseURLMasking: whatever the form of the connection
// string, its password does not show.
func TestConfigDatabaseURLMasking(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"postgres://u:pw-s3cret@h/db",
		"postgres://h/db?password=pw-s3cret",
		"host=h user=u password=pw-s3cret dbname=db",
		"postgres://u:pw%zz-s3cret@h/db",
	} {
		lookup := env("KEYWARD_DATABASE_URL", dsn)
		cfg, _ := bootstrap.ParseConfig(lookup)
		for _, s := range bootstrap.Settings(cfg, lookup) {
			if s.Name == "KEYWARD_DATABASE_URL" && (strings.Contains(s.Value, "s3cret") || s.Value == "") {
				t.Errorf("%q shown as %q", dsn, s.Value)
			}
		}
	}
}

// TestConfigSecretNamesAreMasked: a variable named like a credential is
// tagged secret, so a new one cannot be printed by mistake.
func TestConfigSecretNamesAreMasked(t *testing.T) {
	t.Parallel()
	notCredentials := map[string]bool{
		"KEYWARD_VAULT_CREATE_KEY": true, // a switch
	}
	for _, v := range bootstrap.ConfigVariables() {
		for _, suffix := range []string{"_KEY", "_KEYS", "_SECRET", "_TOKEN", "_PASSWORD", "_URL"} {
			if strings.HasSuffix(v.Name, suffix) && v.Secret == "" && !notCredentials[v.Name] {
				t.Errorf("%s looks like a credential but has no secret tag", v.Name)
			}
		}
		if v.Doc == "" {
			t.Errorf("%s has no doc tag", v.Name)
		}
	}
}

// TestConfigREADMETable fails when README.md's configuration table and the
// struct tags disagree. Regenerate the table with
// `go run ./cmd/keyward config --markdown`.
func TestConfigREADMETable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const header = "| variable | default | meaning |\n"
	_, rest, ok := strings.Cut(string(readme), header)
	if !ok {
		t.Fatalf("README.md has no configuration table starting %q", header)
	}
	table, _, _ := strings.Cut(header+rest, "\n\n")
	want := bootstrap.ConfigMarkdown()
	if table+"\n" == want {
		return
	}
	got := strings.Split(table, "\n")
	for i, line := range strings.Split(strings.TrimSuffix(want, "\n"), "\n") {
		if i >= len(got) || got[i] != line {
			t.Errorf("README.md line %d of the table:\n got %q\nwant %q", i+1, at(got, i), line)
		}
	}
	t.Errorf("README.md's configuration table disagrees with bootstrap.Config's tags; regenerate it with: go run ./cmd/keyward config --markdown")
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(missing)"
}

func TestSandboxStockScaleMustBePositive(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-3"} {
		_, err := bootstrap.LoadConfig(env("KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE", v))
		if err == nil || !strings.Contains(err.Error(), "KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE must be at least 1") {
			t.Errorf("KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE=%s: %v, want a refusal naming it", v, err)
		}
	}
}

// TestPreorderGraceConfig: KEYWARD_PREORDER_GRACE is read as a duration,
// 48h by default, and must be positive.
func TestPreorderGraceConfig(t *testing.T) {
	t.Parallel()
	if c, err := bootstrap.LoadConfig(env()); err != nil || c.Operations.PreorderGrace != 48*time.Hour {
		t.Errorf("default: %v, %v", c.Operations.PreorderGrace, err)
	}
	if c, err := bootstrap.LoadConfig(env("KEYWARD_PREORDER_GRACE", "72h")); err != nil || c.Operations.PreorderGrace != 72*time.Hour {
		t.Errorf("72h: %v, %v", c.Operations.PreorderGrace, err)
	}
	for _, bad := range []string{"0s", "-1h"} {
		if _, err := bootstrap.LoadConfig(env("KEYWARD_PREORDER_GRACE", bad)); err == nil || !strings.Contains(err.Error(), "KEYWARD_PREORDER_GRACE") {
			t.Errorf("KEYWARD_PREORDER_GRACE=%s: %v, want an error naming the variable", bad, err)
		}
	}
}

// TestQueuePruneConfig: KEYWARD_QUEUE_RETENTION must be positive;
// KEYWARD_QUEUE_PRUNE_INTERVAL may be 0, which keeps every message, but
// not negative.
func TestQueuePruneConfig(t *testing.T) {
	t.Parallel()
	if c, err := bootstrap.LoadConfig(env("KEYWARD_QUEUE_PRUNE_INTERVAL", "0")); err != nil || c.Operations.QueuePrune != 0 {
		t.Errorf("KEYWARD_QUEUE_PRUNE_INTERVAL=0: %v, %v", c.Operations.QueuePrune, err)
	}
	for name, bad := range map[string][]string{"KEYWARD_QUEUE_RETENTION": {"0s", "-1h"}, "KEYWARD_QUEUE_PRUNE_INTERVAL": {"-1m"}} {
		for _, v := range bad {
			if _, err := bootstrap.LoadConfig(env(name, v)); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: %v, want an error naming the variable", name, v, err)
			}
		}
	}
}
