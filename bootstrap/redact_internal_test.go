package bootstrap

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"
)

// urlPassword is the password every URL-valued setting carries in these
// tests; it holds characters a URL escapes.
const urlPassword = "pw-s3cr3t/+=%21"

// urlSettings gives each URL-valued variable a URL of its kind with a
// user and urlPassword (escaped as a URL must write it).
var urlSettings = map[string]string{
	"KEYWARD_PUBLIC_BASE_URL":        "https://shop:pw-s3cr3t%2F+=%2521@keys.example",
	"KEYWARD_DATABASE_URL":           "postgres://keyward:pw-s3cr3t%2F+=%2521@db.example:5432/keyward",
	"VAULT_ADDR":                     "https://ops:pw-s3cr3t%2F+=%2521@vault.example:8200",
	"KEYWARD_S3_ENDPOINT":            "https://ak:pw-s3cr3t%2F+=%2521@s3.example",
	"KEYWARD_NATS_URL":               "nats://app:pw-s3cr3t%2F+=%2521@nats.example:4222",
	"KEYWARD_AMQP_URL":               "amqp://app:pw-s3cr3t%2F+=%2521@rabbit.example:5672/",
	"KEYWARD_SMTP_URL":               "smtp://mailer:pw-s3cr3t%2F+=%2521@smtp.example:587",
	"KEYWARD_RESEND_API_URL":         "https://re:pw-s3cr3t%2F+=%2521@api.resend.example",
	"KEYWARD_NOWPAYMENTS_API_URL":    "https://np:pw-s3cr3t%2F+=%2521@api.nowpayments.example",
	"KEYWARD_KINGUIN_API_URL":        "https://kg:pw-s3cr3t%2F+=%2521@gateway.kinguin.example/esa/api",
	"KEYWARD_CODESWHOLESALE_API_URL": "https://cw:pw-s3cr3t%2F+=%2521@sandbox.codeswholesale.example",
	"KEYWARD_REDIS_URL":              "redis://limits:pw-s3cr3t%2F+=%2521@redis.example:6379/0",
	// Refused by validation (credentials belong in KEYWARD_S3_*), but
	// whoever writes one must not see it printed back.
	"KEYWARD_AUDIT_CHECKPOINT_PATH": "s3://AKIAEXAMPLE:pw-s3cr3t%2F+=%2521@audit-bucket/checkpoints",
}

// leaks reports whether s shows the password in any spelling.
func leaks(s string) bool {
	return strings.Contains(s, "s3cr3t")
}

func lookupOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

// TestEveryURLSettingIsMasked: a variable holding a URL (named *_URL,
// *_ENDPOINT, Vault's address, or the checkpoint path, which may be an
// s3:// URL) is tagged secret:"url", and the table above covers each, so a
// new one is masked and tested.
func TestEveryURLSettingIsMasked(t *testing.T) {
	t.Parallel()
	for _, v := range ConfigVariables() {
		isURL := strings.HasSuffix(v.Name, "_URL") || strings.HasSuffix(v.Name, "_ENDPOINT") || v.Name == "VAULT_ADDR" ||
			v.Name == "KEYWARD_AUDIT_CHECKPOINT_PATH"
		if isURL && v.Secret == "" {
			t.Errorf("%s holds a URL but is not tagged secret:\"url\"", v.Name)
		}
		if _, tested := urlSettings[v.Name]; v.Secret == "url" && !tested {
			t.Errorf("%s is a URL setting without a case in urlSettings", v.Name)
		}
	}
}

// TestURLPasswordsNeverShow: for each URL-valued setting holding a
// password, `keyward config` (Settings) shows the URL with the password
// masked, and configuration errors, start-up errors and log lines never
// show it.
func TestURLPasswordsNeverShow(t *testing.T) {
	t.Parallel()
	for name, value := range urlSettings {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lookup := lookupOf(map[string]string{name: value})
			cfg, err := ParseConfig(lookup)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range Settings(cfg, lookup) {
				if s.Name != name {
					continue
				}
				if leaks(s.Value) || !strings.Contains(s.Value, ":xxxxx@") {
					t.Errorf("config shows %q", s.Value)
				}
			}
			if got := RedactError(&testError{"open " + value + ": refused"}, lookup); leaks(got.Error()) {
				t.Errorf("RedactError: %q", got)
			}
			var logs bytes.Buffer
			newLogger(cfg, &logs).Error("connect failed", "url", value, "err", "parse \""+value+"\": invalid port")
			if leaks(logs.String()) {
				t.Errorf("log line: %s", logs.String())
			}
		})
	}
}

type testError struct{ s string }

func (e *testError) Error() string { return e.s }

// TestConfigErrorsHideURLPasswords: the validation errors about a URL, or
// that quote one, name the variable and never show its password.
func TestConfigErrorsHideURLPasswords(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		env  map[string]string
	}{
		{"KEYWARD_PUBLIC_BASE_URL", map[string]string{ // the dev IPN secret beyond loopback quotes the base URL
			"KEYWARD_PUBLIC_BASE_URL": urlSettings["KEYWARD_PUBLIC_BASE_URL"], "KEYWARD_HTTP_ADDR": "0.0.0.0:8080"}},
		{"KEYWARD_KINGUIN_API_URL", map[string]string{"KEYWARD_SUPPLIER": "kinguin", "KEYWARD_KINGUIN_API_KEY": "k", "KEYWARD_KINGUIN_WEBHOOK_SECRET": "dev-hook",
			"KEYWARD_KINGUIN_API_URL": "ftp://kg:pw-s3cr3t@gateway.kinguin.example"}},
		{"KEYWARD_S3_ENDPOINT", map[string]string{"KEYWARD_BLOB_STORE": "s3", "KEYWARD_S3_BUCKET": "b", "KEYWARD_S3_ACCESS_KEY_ID": "a",
			"KEYWARD_S3_SECRET_ACCESS_KEY": "s", "KEYWARD_S3_ENDPOINT": urlSettings["KEYWARD_S3_ENDPOINT"]}},
		{"KEYWARD_NATS_URL", map[string]string{"KEYWARD_DATABASE_URL": "postgres://h/db", "KEYWARD_BROKER": "nats",
			"KEYWARD_NATS_URL": "http://app:pw-s3cr3t@nats.example"}},
		{"KEYWARD_AMQP_URL", map[string]string{"KEYWARD_DATABASE_URL": "postgres://h/db", "KEYWARD_BROKER": "amqp",
			"KEYWARD_AMQP_URL": "http://app:pw-s3cr3t@rabbit.example"}},
		{"KEYWARD_SMTP_URL", map[string]string{"KEYWARD_MAILER": "smtp", "KEYWARD_SMTP_URL": "http://mailer:pw-s3cr3t@smtp.example"}},
		{"KEYWARD_RESEND_API_URL", map[string]string{"KEYWARD_MAILER": "resend", "KEYWARD_RESEND_API_KEY": "re_k",
			"KEYWARD_MAIL_FROM": "keys@shop.example", "KEYWARD_RESEND_API_URL": "ftp://re:pw-s3cr3t@api.resend.example"}},
		{"KEYWARD_NOWPAYMENTS_API_URL", map[string]string{"KEYWARD_PAYMENTS": "nowpayments", "KEYWARD_NOWPAYMENTS_API_KEY": "k",
			"KEYWARD_NOWPAYMENTS_API_URL": urlSettings["KEYWARD_NOWPAYMENTS_API_URL"]}},
	} {
		_, err := LoadConfig(lookupOf(c.env))
		if err == nil {
			t.Errorf("%s: the configuration was accepted", c.name)
			continue
		}
		if leaks(err.Error()) {
			t.Errorf("%s: the error shows the password: %v", c.name, err)
		}
	}
}

// TestStartErrorsHideURLPasswords: a database or Vault URL the driver
// cannot use fails the start with an error, and log lines, that never show
// its password (a URL parse error quotes the URL whole).
func TestStartErrorsHideURLPasswords(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"KEYWARD_DATABASE_URL": {"KEYWARD_DATABASE_URL": "postgres://keyward:pw-s3cr3t@127.0.0.1:port/keyward", "KEYWARD_MIGRATE_ON_START": "true"},
		"VAULT_ADDR":           {"KEYWARD_KEY_VAULT": "vault", "VAULT_TOKEN": "t", "VAULT_ADDR": "http://ops:pw-s3cr3t@127.0.0.1:port"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env["KEYWARD_HTTP_ADDR"] = "127.0.0.1:0"
			env["KEYWARD_KEYRING_FILE"] = t.TempDir() + "/keyring.json"
			env["KEYWARD_MAIL_DIR"] = t.TempDir()
			lookup := lookupOf(env)
			cfg, err := ParseConfig(lookup)
			if err != nil {
				t.Fatal(err)
			}
			// The configuration refuses the URL first; the start, for a
			// configuration that was not validated, hides it as well.
			if err := cfg.Validate(); err == nil || leaks(err.Error()) {
				t.Errorf("configuration error: %v", err)
			}
			var logs syncLog
			app := New(cfg, fx.Decorate(func() *slog.Logger { return newLogger(cfg, &logs) }))
			err = app.Err()
			if err == nil {
				ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
				defer cancel()
				if err = app.Start(ctx); err == nil {
					_ = app.Stop(ctx)
					t.Fatal("keyward started with a URL it cannot use")
				}
			}
			if shown := RedactError(err, lookup); leaks(shown.Error()) {
				t.Errorf("start error shows the password: %v", shown)
			}
			if leaks(logs.String()) {
				t.Errorf("logs show the password:\n%s", logs.String())
			}
		})
	}
}

// syncLog is a log sink for several goroutines.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestURLUserTokensAndOrdinaryWords: a user standing alone in a URL (a
// token, as in https://TOKEN@host) is masked whole in `keyward config` and
// in logs, and a short password that is also an ordinary word of log lines
// ("postgres") is cut where it stands as a URL's password, not everywhere.
func TestURLUserTokensAndOrdinaryWords(t *testing.T) {
	t.Parallel()
	const token = "ghp_S3CR3TT0KEN1234567890"
	lookup := lookupOf(map[string]string{
		"KEYWARD_S3_ENDPOINT":  "https://" + token + "@s3.example",
		"KEYWARD_DATABASE_URL": "postgres://postgres:postgres@db.example:5432/keyward",
	})
	cfg, err := ParseConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Settings(cfg, lookup) {
		switch s.Name {
		case "KEYWARD_S3_ENDPOINT":
			if s.Value != "https://xxxxx@s3.example" {
				t.Errorf("config shows %s as %q, want its user masked", s.Name, s.Value)
			}
		case "KEYWARD_DATABASE_URL":
			if s.Value != "postgres://postgres:xxxxx@db.example:5432/keyward" {
				t.Errorf("config shows %s as %q", s.Name, s.Value)
			}
		}
	}
	var logs bytes.Buffer
	newLogger(cfg, &logs).Info("storage ready", "storage", "postgres", "endpoint", "https://"+token+"@s3.example",
		"dsn", "postgres://postgres:postgres@db.example:5432/keyward", "err", "token "+token+" refused")
	line := logs.String()
	if strings.Contains(line, token) || strings.Contains(line, "postgres:postgres@") {
		t.Errorf("log line shows a secret: %s", line)
	}
	if !strings.Contains(line, `"storage":"postgres"`) || !strings.Contains(line, "postgres://postgres:xxxxx@db.example") {
		t.Errorf("log line lost an ordinary word or the URL's shape: %s", line)
	}
}
