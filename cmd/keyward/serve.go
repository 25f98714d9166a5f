package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/keyward/keyward/bootstrap"
)

// serveCmd runs the service. It has no flags: the listen address and
// everything else come from KEYWARD_* variables (KEYWARD_HTTP_ADDR, not a
// --port), so one environment configures serve, worker and the tools.
type serveCmd struct{}

func (serveCmd) environment() string {
	return wholeConfig("KEYWARD_HTTP_ADDR", "KEYWARD_PUBLIC_BASE_URL", "KEYWARD_DATABASE_URL", "KEYWARD_ROLE")
}

func (serveCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	app, base, err := bootstrap.NewServer(cfg)
	if err != nil {
		return err
	}
	printBanner(e.stderr, cfg, base)
	app.Run()
	return nil
}

func printBanner(w io.Writer, cfg bootstrap.Config, base string) {
	base = bootstrap.RedactURL(base) // never print a password it may hold
	var b strings.Builder
	fmt.Fprintf(&b, "\nkeyward %s listening on %s\n", bootstrap.Version, base)
	storage, messaging := "memory", "gochannel"
	if cfg.DatabaseURL != "" {
		storage, messaging = "postgres", "watermill-sql (outbox on the same database)"
		if b := cfg.Messaging.Broker; b != bootstrap.BrokerSQL {
			messaging = "outbox forwarded to " + b
		}
	}
	fmt.Fprintf(&b, "  storage: %s  messaging: %s  key vault: %s  supplier: sandbox  payments: sandbox  mail: %s\n", storage, messaging, cfg.KeyVault, cfg.MailDir)
	if cfg.IPNSecret == bootstrap.DevIPNSecret {
		fmt.Fprintf(&b, "  NOWPayments IPN secret (dev default): %s\n", bootstrap.DevIPNSecret)
	}
	if len(cfg.AdminAPIKeys) == 0 {
		fmt.Fprintf(&b, "  no admin API keys: set KEYWARD_ADMIN_API_KEYS to use /v1/admin\n")
	}
	fmt.Fprintf(&b, `
Walk the demo (README has the details):
  curl -s %[1]s/v1/products
  curl -s -X POST %[1]s/v1/orders -H 'Content-Type: application/json' \
       -d '{"email":"you@example.com","items":[{"sku":"<sku>","quantity":1}]}'
  go run ./cmd/keyward pay --order <order id> --server %[1]s
  ls %[2]s   # the delivery email, with the reveal link
  API docs: %[1]s/docs

`, base, cfg.MailDir)
	fmt.Fprint(w, b.String())
}
