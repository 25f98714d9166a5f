// Package bootstrap wires keyward with fx: configuration, the choice of
// adapters for each port, and their lifecycles. Only bootstrap and cmd know
// every adapter.
package bootstrap

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/messaging"
)

// DevIPNSecret is the NOWPayments IPN secret used when none is configured,
// so the sandbox flow works out of the box. It is printed at start-up and
// must equal the envDefault of Config.IPNSecret.
const DevIPNSecret = "keyward-dev-ipn-secret"

// Config is keyward's configuration. Its struct tags are the one source of
// every variable's name (env), default (envDefault) and meaning (doc);
// secret marks values `keyward config` masks ("url": only the password),
// fallback names a variable read when the first one is unset. The README's
// configuration table is generated from them (ConfigMarkdown). A tag value
// is a quoted Go string, so \x60 in a doc stands for a backtick (code in the
// README), which the raw literal around the tags cannot hold.
type Config struct {
	HTTPAddr          string          `env:"KEYWARD_HTTP_ADDR" envDefault:"127.0.0.1:8080" doc:"listen address"`
	OpsAddr           string          `env:"KEYWARD_OPS_ADDR" fallback:"KEYWARD_HTTP_ADDR" envDefault:"127.0.0.1:8081" doc:"where \x60keyward worker\x60 serves \x60/healthz\x60, \x60/readyz\x60 and \x60/metrics\x60; unset: \x60KEYWARD_HTTP_ADDR\x60 when that is set, else this default, which is not the API's port, so a worker starts beside an API"`
	PublicBaseURL     string          `env:"KEYWARD_PUBLIC_BASE_URL" secret:"url" doc:"base of the links in emails; unset: \x60http://\x60 and the listen address"`
	MailDir           string          `env:"KEYWARD_MAIL_DIR" envDefault:"./var/mail" doc:"where the maildir mailer writes \x60.eml\x60 files"`
	MailFrom          string          `env:"KEYWARD_MAIL_FROM" envDefault:"keyward <keys@keyward.localhost>" doc:"sender"`
	IPNSecret         string          `env:"KEYWARD_NOWPAYMENTS_IPN_SECRET" envDefault:"keyward-dev-ipn-secret" secret:"true" doc:"IPN HMAC secret; the default is public, printed at start and refused beyond loopback, where a secret needs at least 16 characters; a repeated pattern is refused everywhere"`
	AdminAPIKeys      []string        `env:"KEYWARD_ADMIN_API_KEYS" secret:"true" doc:"comma-separated bootstrap bearer keys for \x60/v1/admin\x60 (role admin, audited as bootstrap-1, bootstrap-2, …; make named keys with \x60keyward admin create-key\x60); at least 16 characters each beyond loopback"`
	LinkTTL           time.Duration   `env:"KEYWARD_DELIVERY_LINK_TTL" envDefault:"15m" doc:"how long a delivery link reveals"`
	LinkMaxReveals    int             `env:"KEYWARD_DELIVERY_LINK_MAX_REVEALS" envDefault:"5" doc:"reveals per link"`
	ResendLimit       int             `env:"KEYWARD_RESEND_LIMIT" envDefault:"5" doc:"times a delivery link may be sent again per order within \x60KEYWARD_RESEND_WINDOW\x60; more answer \x60429\x60 with \x60Retry-After\x60 (0: no limit)"`
	ResendWindow      time.Duration   `env:"KEYWARD_RESEND_WINDOW" envDefault:"1h" doc:"the window of \x60KEYWARD_RESEND_LIMIT\x60"`
	KeyVault          string          `env:"KEYWARD_KEY_VAULT" envDefault:"local" doc:"\x60local\x60 (keyring file) or \x60vault\x60 (HashiCorp Vault transit)"`
	KeyringFile       string          `env:"KEYWARD_KEYRING_FILE" envDefault:"./var/keyring.json" doc:"the local keyring's master keys; with \x60KEYWARD_KEY_VAULT=vault\x60 still read while it exists (moving to Vault)"`
	CatalogMargin     decimal.Decimal `env:"KEYWARD_CATALOG_MARGIN" envDefault:"0.10" doc:"markup on supplier cost"`
	SupplierLatency   time.Duration   `env:"KEYWARD_SANDBOX_SUPPLIER_LATENCY" envDefault:"0" doc:"simulated supplier latency"`
	SupplierFailRate  float64         `env:"KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE" envDefault:"0" doc:"fraction of supplier calls that fail temporarily"`
	SupplierStock     int             `env:"KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE" envDefault:"1" doc:"multiplies the sandbox catalog's stock (a few hundred keys a product), for load tests such as \x60keyward bench\x60"`
	RetryMaxAttempts  int             `env:"KEYWARD_RETRY_MAX_ATTEMPTS" envDefault:"5" doc:"handler retries before a message goes to the dead letters"`
	RetryInitialDelay time.Duration   `env:"KEYWARD_RETRY_INITIAL_DELAY" envDefault:"200ms" doc:"first backoff between those retries"`
	RetryMaxDelay     time.Duration   `env:"KEYWARD_RETRY_MAX_DELAY" envDefault:"5s" doc:"longest backoff between those retries"`
	ReconcileInterval time.Duration   `env:"KEYWARD_RECONCILE_INTERVAL" envDefault:"30s" doc:"how often stuck orders are looked for (\x600\x60 disables)"`
	ReconcileAfter    time.Duration   `env:"KEYWARD_RECONCILE_STALE_AFTER" envDefault:"1m" doc:"an order untouched this long in \x60paid\x60, \x60fulfilling\x60 or \x60fulfilled\x60 is resumed"`
	DeliveryRateLimit bool            `env:"KEYWARD_DELIVERY_RATE_LIMIT" envDefault:"true" doc:"limit delivery endpoints to 1 request/s per IP (bursts of 20) and 1 per 6 s per link (bursts of 10), webhooks that fail verification to 20 per source then 1/s, failed admin authentications to 10 per source then 1/min; over it: \x60429\x60 with \x60Retry-After\x60. \x60false\x60 turns these off (order limits have their own settings)"`
	PageSecret        []byte          `env:"KEYWARD_PAGE_SECRET" secret:"true" doc:"signs the reveal page's CSRF token; unset: random per process, so set it when running several instances; beyond loopback at least 32 bytes of key material (a hex or base64 value counts decoded: \x60openssl rand -hex 32\x60); a repeated pattern is refused everywhere"`
	LogLevel          slog.Level      `env:"KEYWARD_LOG_LEVEL" envDefault:"info" doc:"\x60debug\x60, \x60info\x60, \x60warn\x60, \x60error\x60"`
	DatabaseURL       string          `env:"KEYWARD_DATABASE_URL" secret:"url" doc:"Postgres: storage, ciphertext and message queue; unset: in memory"`
	MigrateOnStart    bool            `env:"KEYWARD_MIGRATE_ON_START" envDefault:"false" doc:"apply migrations when \x60serve\x60 starts"`
	QueuePartitions   int             `env:"KEYWARD_QUEUE_PARTITIONS" envDefault:"4" doc:"Postgres queue: each event topic is split by order id and the parts are consumed in parallel"`
	Vault             VaultConfig
	Blobs             BlobConfig
	Audit             AuditConfig
	Supplier          SupplierConfig
	Payments          PaymentsConfig
	Mail              MailConfig
	Messaging         MessagingConfig
	Stock             StockConfig
	Catalog           CatalogConfig
	Operations        OperationsConfig
	Tuning            TuningConfig
	Limits            LimitsConfig
	Customer          CustomerConfig
	Webhooks          WebhookConfig
}

// VaultConfig configures the Vault transit key vault (KEYWARD_KEY_VAULT=vault).
type VaultConfig struct {
	Addr       string `env:"VAULT_ADDR" envDefault:"http://127.0.0.1:8200" secret:"url" doc:"Vault, with \x60KEYWARD_KEY_VAULT=vault\x60"`
	Token      string `env:"KEYWARD_VAULT_TOKEN" fallback:"VAULT_TOKEN" secret:"true" doc:"Vault token, else \x60VAULT_TOKEN\x60 (renewable tokens are renewed)"`
	Mount      string `env:"KEYWARD_VAULT_TRANSIT_MOUNT" envDefault:"transit" doc:"transit mount path"`
	Key        string `env:"KEYWARD_VAULT_TRANSIT_KEY" envDefault:"keyward" secret:"true" doc:"transit key name"`
	CreateKey  bool   `env:"KEYWARD_VAULT_CREATE_KEY" envDefault:"true" doc:"mount transit and create the key when missing"`
	CACert     string `env:"VAULT_CACERT" doc:"TLS to Vault: CA certificate file"`
	ClientCert string `env:"VAULT_CLIENT_CERT" doc:"TLS to Vault: client certificate file"`
	ClientKey  string `env:"VAULT_CLIENT_KEY" secret:"true" doc:"TLS to Vault: client key file"`
	SkipVerify bool   `env:"VAULT_SKIP_VERIFY" envDefault:"false" doc:"TLS to Vault: skip certificate verification"`
}

// Defaults returns the defaults of the struct tags: everything in-process,
// nothing external needed. It panics if a tag's default does not parse,
// a programmer error the tests catch.
func Defaults() Config {
	c, err := ParseConfig(func(string) (string, bool) { return "", false })
	if err != nil {
		panic("keyward: configuration defaults: " + err.Error())
	}
	return c
}

// LoadConfig reads the environment through lookup (EnvLookup in the binary)
// over the defaults and validates the result. It has no side effects. It
// returns an error naming the variable for any value it cannot parse or
// accept; when only validation fails, the parsed Config comes with it.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	c, err := ParseConfig(lookup)
	if err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// ParseConfig reads the environment through lookup over the defaults
// without validating. Values are trimmed; an empty value counts as unset.
// It returns an error naming each variable whose value does not parse.
func ParseConfig(lookup func(string) (string, bool)) (Config, error) {
	vars := ConfigVariables()
	environ := environment(vars, lookup)
	var c Config
	err := env.ParseWithOptions(&c, env.Options{
		Environment: environ,
		FuncMap: map[reflect.Type]env.ParserFunc{
			reflect.TypeFor[[]string](): parseList,
			reflect.TypeFor[[]byte]():   func(v string) (any, error) { return []byte(v), nil },
		},
	})
	if err != nil {
		return Config{}, explain(err, vars, environ)
	}
	return c, nil
}

// environment gathers the trimmed, non-empty values of every variable,
// a fallback standing in for its unset primary.
func environment(vars []Variable, lookup func(string) (string, bool)) map[string]string {
	get := func(k string) (string, bool) {
		if k == "" {
			return "", false
		}
		v, ok := lookup(k)
		v = strings.TrimSpace(v)
		return v, ok && v != ""
	}
	m := map[string]string{}
	for _, v := range vars {
		if s, ok := get(v.Name); ok {
			m[v.Name] = s
		} else if s, ok := get(v.Fallback); ok {
			m[v.Name] = s
		}
	}
	return m
}

// parseList splits a comma-separated list, dropping blanks.
func parseList(v string) (any, error) {
	var out []string
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// explain turns the loader's errors into ones naming the variable, its
// value and what was expected.
func explain(err error, vars []Variable, environ map[string]string) error {
	byField := map[string]Variable{}
	for _, v := range vars {
		byField[v.field] = v
	}
	errs := []error{err}
	var agg env.AggregateError
	if errors.As(err, &agg) {
		errs = agg.Errors
	}
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if v, ok := byField[pe.Name]; ok {
				out = append(out, fmt.Errorf("%s=%q: want %s", v.Name, redact(v.Secret, environ[v.Name]), expected(pe.Type, pe.Err)))
				continue
			}
		}
		out = append(out, fmt.Errorf("configuration: %w", e))
	}
	return errors.Join(out...)
}

// expected says, for an error message, what a variable of type t takes.
func expected(t reflect.Type, err error) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration such as 15m"
	case reflect.TypeFor[slog.Level]():
		return "debug, info, warn or error"
	case reflect.TypeFor[decimal.Decimal]():
		return "a decimal such as 0.10"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return err.Error()
}

// Validate checks cross-field rules. It changes nothing and returns an
// error naming the variable to fix, without the password of any
// URL-valued setting.
func (c Config) Validate() error {
	return redactError(c.validate(), c.urlSecrets())
}

func (c Config) validate() error {
	if err := c.validateSyntax(); err != nil {
		return err
	}
	switch {
	case c.LinkTTL <= 0:
		return fmt.Errorf("KEYWARD_DELIVERY_LINK_TTL must be positive")
	case c.LinkMaxReveals < 1:
		return fmt.Errorf("KEYWARD_DELIVERY_LINK_MAX_REVEALS must be at least 1")
	case c.ResendLimit < 0 || c.ResendWindow <= 0:
		return fmt.Errorf("KEYWARD_RESEND_LIMIT must not be negative and KEYWARD_RESEND_WINDOW must be positive")
	case c.KeyVault != "local" && c.KeyVault != "vault":
		return fmt.Errorf("KEYWARD_KEY_VAULT must be local or vault, not %q", c.KeyVault)
	case strings.TrimSpace(c.IPNSecret) == "":
		return fmt.Errorf("KEYWARD_NOWPAYMENTS_IPN_SECRET must not be empty")
	case c.KeyVault == "vault" && c.Vault.Token == "":
		return fmt.Errorf("KEYWARD_KEY_VAULT=vault needs VAULT_TOKEN (or KEYWARD_VAULT_TOKEN) and VAULT_ADDR")
	case c.SupplierFailRate < 0 || c.SupplierFailRate > 1:
		return fmt.Errorf("KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE must be between 0 and 1")
	case c.SupplierStock < 1:
		return fmt.Errorf("KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE must be at least 1, not %d", c.SupplierStock)
	case c.CatalogMargin.IsNegative():
		return fmt.Errorf("KEYWARD_CATALOG_MARGIN must not be negative, not %s", c.CatalogMargin)
	}
	if err := c.validateSecrets(loopback(c.listenAddr()) && loopbackURL(c.PublicBaseURL)); err != nil {
		return err
	}
	if err := c.validateBlobs(); err != nil {
		return err
	}
	if err := c.validateAudit(); err != nil {
		return err
	}
	if err := c.Supplier.Validate(); err != nil {
		return err
	}
	if err := c.Stock.Validate(); err != nil {
		return err
	}
	if err := c.Payments.validate(); err != nil {
		return err
	}
	if err := c.Mail.Validate(c.MailFrom); err != nil {
		return err
	}
	if err := c.Catalog.Validate(); err != nil {
		return err
	}
	if err := c.validateMessaging(); err != nil {
		return err
	}
	if err := c.Operations.validate(); err != nil {
		return err
	}
	if err := c.Tuning.validate(); err != nil {
		return err
	}
	if err := c.Webhooks.validate(); err != nil {
		return err
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Customer.validate(); err != nil {
		return err
	}
	if c.QueuePartitions < 1 || c.QueuePartitions > messaging.MaxPartitions {
		return fmt.Errorf("KEYWARD_QUEUE_PARTITIONS must be between 1 and %d", messaging.MaxPartitions)
	}
	if c.ReconcileAfter <= 0 || c.ReconcileInterval < 0 {
		return fmt.Errorf("KEYWARD_RECONCILE_STALE_AFTER must be positive and KEYWARD_RECONCILE_INTERVAL not negative")
	}
	if budget := c.retryBudget(); budget > ackDeadline/2 {
		return fmt.Errorf("the retry settings hold a message for up to %s, over half the queue's %s ack deadline: lower KEYWARD_RETRY_MAX_ATTEMPTS or KEYWARD_RETRY_MAX_DELAY", budget, ackDeadline)
	}
	return nil
}

// ackDeadline mirrors messaging.AckDeadline (config does not import adapters).
const ackDeadline = 2 * time.Minute

// retryBudget is the longest a failing message is retried in place.
func (c Config) retryBudget() time.Duration {
	var total time.Duration
	d := c.RetryInitialDelay
	for range c.RetryMaxAttempts {
		total += min(d, c.RetryMaxDelay)
		d *= 2
	}
	return total
}

// loopbackURL reports whether a base URL is empty (derived from the listen
// address) or points at a loopback host.
func loopbackURL(u string) bool {
	if u == "" {
		return true
	}
	parsed, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := parsed.Hostname()
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// loopback reports whether addr listens on a loopback address only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// EnvLookup is os.LookupEnv; the one place the environment is read.
func EnvLookup(k string) (string, bool) { return os.LookupEnv(k) }
