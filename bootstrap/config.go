// Package bootstrap wires keyward with fx: configuration, the choice of
// adapters for each port, and their lifecycles. Only bootstrap and cmd know
// every adapter.
package bootstrap

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// DevIPNSecret is the NOWPayments IPN secret used when none is configured,
// so the sandbox flow works out of the box. It is printed at start-up.
const DevIPNSecret = "keyward-dev-ipn-secret"

// Config is keyward's configuration, read from KEYWARD_* variables.
type Config struct {
	HTTPAddr          string        // KEYWARD_HTTP_ADDR
	PublicBaseURL     string        // KEYWARD_PUBLIC_BASE_URL; default http://<HTTPAddr>
	MailDir           string        // KEYWARD_MAIL_DIR
	MailFrom          string        // KEYWARD_MAIL_FROM
	IPNSecret         string        // KEYWARD_NOWPAYMENTS_IPN_SECRET
	AdminAPIKeys      []string      // KEYWARD_ADMIN_API_KEYS, comma-separated
	LinkTTL           time.Duration // KEYWARD_DELIVERY_LINK_TTL
	LinkMaxReveals    int           // KEYWARD_DELIVERY_LINK_MAX_REVEALS
	KeyVault          string        // KEYWARD_KEY_VAULT: local | vault
	KeyringFile       string        // KEYWARD_KEYRING_FILE
	SupplierLatency   time.Duration // KEYWARD_SANDBOX_SUPPLIER_LATENCY
	SupplierFailRate  float64       // KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE
	CatalogMargin     decimal.Decimal
	PageSecret        []byte // KEYWARD_PAGE_SECRET; random per process if unset
	LogLevel          slog.Level
	RetryMaxAttempts  int           // KEYWARD_RETRY_MAX_ATTEMPTS
	RetryInitialDelay time.Duration // KEYWARD_RETRY_INITIAL_DELAY
	RetryMaxDelay     time.Duration // KEYWARD_RETRY_MAX_DELAY
	ReconcileInterval time.Duration // KEYWARD_RECONCILE_INTERVAL; 0 disables
	ReconcileAfter    time.Duration // KEYWARD_RECONCILE_STALE_AFTER
	DeliveryRateLimit bool          // KEYWARD_DELIVERY_RATE_LIMIT: per-IP and per-link limits on delivery endpoints
	DatabaseURL       string        // KEYWARD_DATABASE_URL; empty: in-memory storage
	QueuePartitions   int           // KEYWARD_QUEUE_PARTITIONS: Postgres queue partitions consumed in parallel
	MigrateOnStart    bool          // KEYWARD_MIGRATE_ON_START
	Vault             VaultConfig
}

// VaultConfig configures the Vault transit key vault (KEYWARD_KEY_VAULT=vault).
type VaultConfig struct {
	Addr       string // VAULT_ADDR
	Token      string // KEYWARD_VAULT_TOKEN, else VAULT_TOKEN
	Mount      string // KEYWARD_VAULT_TRANSIT_MOUNT
	Key        string // KEYWARD_VAULT_TRANSIT_KEY
	CreateKey  bool   // KEYWARD_VAULT_CREATE_KEY: mount transit and create the key when missing
	CACert     string // VAULT_CACERT
	ClientCert string // VAULT_CLIENT_CERT
	ClientKey  string // VAULT_CLIENT_KEY
	SkipVerify bool   // VAULT_SKIP_VERIFY
}

// Defaults returns the embedded defaults: everything in-process, nothing
// external needed.
func Defaults() Config {
	return Config{
		HTTPAddr:          "127.0.0.1:8080",
		MailDir:           "./var/mail",
		MailFrom:          "keyward <keys@keyward.localhost>",
		IPNSecret:         DevIPNSecret,
		LinkTTL:           15 * time.Minute,
		LinkMaxReveals:    5,
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
		Vault:             VaultConfig{Addr: "http://127.0.0.1:8200", Mount: "transit", Key: "keyward", CreateKey: true},
	}
}

// LoadConfig reads the environment through lookup (os.LookupEnv in the
// binary) over the defaults. It returns an error naming the variable for
// any value it cannot parse.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	c := Defaults()
	p := parser{lookup: lookup}
	p.str("KEYWARD_HTTP_ADDR", &c.HTTPAddr)
	p.str("KEYWARD_PUBLIC_BASE_URL", &c.PublicBaseURL)
	p.str("KEYWARD_MAIL_DIR", &c.MailDir)
	p.str("KEYWARD_MAIL_FROM", &c.MailFrom)
	p.str("KEYWARD_NOWPAYMENTS_IPN_SECRET", &c.IPNSecret)
	var admin, pageSecret, margin, level string
	p.str("KEYWARD_ADMIN_API_KEYS", &admin)
	for _, k := range strings.Split(admin, ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.AdminAPIKeys = append(c.AdminAPIKeys, k)
		}
	}
	p.duration("KEYWARD_DELIVERY_LINK_TTL", &c.LinkTTL)
	p.integer("KEYWARD_DELIVERY_LINK_MAX_REVEALS", &c.LinkMaxReveals)
	p.str("KEYWARD_KEY_VAULT", &c.KeyVault)
	p.str("KEYWARD_KEYRING_FILE", &c.KeyringFile)
	p.duration("KEYWARD_SANDBOX_SUPPLIER_LATENCY", &c.SupplierLatency)
	p.float("KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE", &c.SupplierFailRate)
	p.str("KEYWARD_CATALOG_MARGIN", &margin)
	if margin != "" {
		d, err := decimal.NewFromString(margin)
		if err != nil || d.IsNegative() {
			p.fail("KEYWARD_CATALOG_MARGIN", margin, "a non-negative decimal such as 0.10")
		}
		c.CatalogMargin = d
	}
	p.str("KEYWARD_PAGE_SECRET", &pageSecret)
	c.PageSecret = []byte(pageSecret)
	p.str("KEYWARD_LOG_LEVEL", &level)
	if level != "" {
		if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
			p.fail("KEYWARD_LOG_LEVEL", level, "debug, info, warn or error")
		}
	}
	p.integer("KEYWARD_RETRY_MAX_ATTEMPTS", &c.RetryMaxAttempts)
	p.duration("KEYWARD_RETRY_INITIAL_DELAY", &c.RetryInitialDelay)
	p.duration("KEYWARD_RETRY_MAX_DELAY", &c.RetryMaxDelay)
	p.duration("KEYWARD_RECONCILE_INTERVAL", &c.ReconcileInterval)
	p.duration("KEYWARD_RECONCILE_STALE_AFTER", &c.ReconcileAfter)
	p.boolean("KEYWARD_DELIVERY_RATE_LIMIT", &c.DeliveryRateLimit)
	p.str("KEYWARD_DATABASE_URL", &c.DatabaseURL)
	p.integer("KEYWARD_QUEUE_PARTITIONS", &c.QueuePartitions)
	p.boolean("KEYWARD_MIGRATE_ON_START", &c.MigrateOnStart)
	p.str("VAULT_ADDR", &c.Vault.Addr)
	p.str("VAULT_TOKEN", &c.Vault.Token)
	p.str("KEYWARD_VAULT_TOKEN", &c.Vault.Token)
	p.str("KEYWARD_VAULT_TRANSIT_MOUNT", &c.Vault.Mount)
	p.str("KEYWARD_VAULT_TRANSIT_KEY", &c.Vault.Key)
	p.boolean("KEYWARD_VAULT_CREATE_KEY", &c.Vault.CreateKey)
	p.str("VAULT_CACERT", &c.Vault.CACert)
	p.str("VAULT_CLIENT_CERT", &c.Vault.ClientCert)
	p.str("VAULT_CLIENT_KEY", &c.Vault.ClientKey)
	p.boolean("VAULT_SKIP_VERIFY", &c.Vault.SkipVerify)
	if p.err != nil {
		return Config{}, p.err
	}
	return c, c.Validate()
}

// Validate checks cross-field rules and fills derived defaults.
func (c *Config) Validate() error {
	switch {
	case c.LinkTTL <= 0:
		return fmt.Errorf("KEYWARD_DELIVERY_LINK_TTL must be positive")
	case c.LinkMaxReveals < 1:
		return fmt.Errorf("KEYWARD_DELIVERY_LINK_MAX_REVEALS must be at least 1")
	case c.KeyVault != "local" && c.KeyVault != "vault":
		return fmt.Errorf("KEYWARD_KEY_VAULT must be local or vault, not %q", c.KeyVault)
	case strings.TrimSpace(c.IPNSecret) == "":
		return fmt.Errorf("KEYWARD_NOWPAYMENTS_IPN_SECRET must not be empty")
	case c.KeyVault == "vault" && c.Vault.Token == "":
		return fmt.Errorf("KEYWARD_KEY_VAULT=vault needs VAULT_TOKEN (or KEYWARD_VAULT_TOKEN) and VAULT_ADDR")
	case c.SupplierFailRate < 0 || c.SupplierFailRate > 1:
		return fmt.Errorf("KEYWARD_SANDBOX_SUPPLIER_FAILURE_RATE must be between 0 and 1")
	}
	if c.IPNSecret == DevIPNSecret && (!loopback(c.HTTPAddr) || !loopbackURL(c.PublicBaseURL)) {
		return fmt.Errorf("KEYWARD_NOWPAYMENTS_IPN_SECRET is the public dev default: anyone could sign payments. Set your own secret before serving beyond this machine (%s, %s)", c.HTTPAddr, c.PublicBaseURL)
	}
	if c.QueuePartitions < 1 || c.QueuePartitions > 32 {
		return fmt.Errorf("KEYWARD_QUEUE_PARTITIONS must be between 1 and 32")
	}
	if c.ReconcileAfter <= 0 || c.ReconcileInterval < 0 {
		return fmt.Errorf("KEYWARD_RECONCILE_STALE_AFTER must be positive and KEYWARD_RECONCILE_INTERVAL not negative")
	}
	if budget := c.retryBudget(); budget > ackDeadline/2 {
		return fmt.Errorf("the retry settings hold a message for up to %s, over half the queue's %s ack deadline: lower KEYWARD_RETRY_MAX_ATTEMPTS or KEYWARD_RETRY_MAX_DELAY", budget, ackDeadline)
	}
	if len(c.PageSecret) == 0 {
		c.PageSecret = make([]byte, 32)
		if _, err := rand.Read(c.PageSecret); err != nil {
			return fmt.Errorf("page secret: %w", err)
		}
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

type parser struct {
	lookup func(string) (string, bool)
	err    error
}

func (p *parser) get(k string) (string, bool) {
	v, ok := p.lookup(k)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (p *parser) fail(k, v, want string) {
	if p.err == nil {
		p.err = fmt.Errorf("%s=%q: want %s", k, v, want)
	}
}

func (p *parser) str(k string, dst *string) {
	if v, ok := p.get(k); ok {
		*dst = v
	}
}

func (p *parser) duration(k string, dst *time.Duration) {
	if v, ok := p.get(k); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			p.fail(k, v, "a duration such as 15m")
			return
		}
		*dst = d
	}
}

func (p *parser) integer(k string, dst *int) {
	if v, ok := p.get(k); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			p.fail(k, v, "an integer")
			return
		}
		*dst = n
	}
}

func (p *parser) boolean(k string, dst *bool) {
	if v, ok := p.get(k); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			p.fail(k, v, "true or false")
			return
		}
		*dst = b
	}
}

func (p *parser) float(k string, dst *float64) {
	if v, ok := p.get(k); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			p.fail(k, v, "a number")
			return
		}
		*dst = f
	}
}
