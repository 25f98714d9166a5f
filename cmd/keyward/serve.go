package main

import (
	"fmt"
	"os"
	"strings"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/keyward/keyward/bootstrap"
)

func serve() error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	var base bootstrap.BaseURL
	app := bootstrap.New(cfg, fx.Populate(&base))
	if err := app.Err(); err != nil {
		// The constructor's own error (which names the variable to fix),
		// not the chain of the graph that led to it.
		return dig.RootCause(err)
	}
	printBanner(cfg, string(base))
	app.Run()
	return nil
}

func printBanner(cfg bootstrap.Config, base string) {
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
	fmt.Fprint(os.Stderr, b.String())
}
