package bootstrap

import (
	"fmt"
	"io"
	"strings"
)

// writeBanner tells whoever started keyward what now runs: where it
// listens (listening, the bound address) and which adapter serves each
// port, as cfg chose them; for an API with the sandbox, how to walk the
// demo. base is the base of the links keyward emails.
func writeBanner(w io.Writer, cfg Config, listening, base string) {
	base = RedactURL(base) // never print a password it may hold
	var b strings.Builder
	if cfg.Messaging.Role == RoleWorker {
		fmt.Fprintf(&b, "keyward %s worker: ops endpoints on %s, links to %s\n  %s\n", Version, listening, base, adapterSummary(cfg))
		_, _ = io.WriteString(w, b.String())
		return
	}
	fmt.Fprintf(&b, "\nkeyward %s listening on %s\n", Version, listening)
	if cfg.PublicBaseURL != "" {
		fmt.Fprintf(&b, "  links in emails: %s\n", base)
	}
	if cfg.Messaging.Role == RoleAPI {
		b.WriteString("  role: api (orders and payments go to the outbox; workers consume them)\n")
	}
	fmt.Fprintf(&b, "  %s\n", adapterSummary(cfg))
	if cfg.IPNSecret == DevIPNSecret {
		fmt.Fprintf(&b, "  NOWPayments IPN secret (dev default): %s\n", DevIPNSecret)
	}
	if len(cfg.AdminAPIKeys) == 0 {
		b.WriteString("  no admin API keys: set KEYWARD_ADMIN_API_KEYS to use /v1/admin\n")
	}
	if cfg.Payments.PaymentsGateway == "sandbox" {
		fmt.Fprintf(&b, `
Walk the demo (README has the details):
  curl -s %[1]s/v1/products
  curl -s -X POST %[1]s/v1/orders -H 'Content-Type: application/json' \
       -d '{"email":"you@example.com","items":[{"sku":"<sku>","quantity":1}]}'
  go run ./cmd/keyward pay --order <order id> --server %[1]s
`, listening)
		if cfg.Mail.Mailer == "maildir" {
			fmt.Fprintf(&b, "  ls %s   # the delivery email, with the reveal link\n", cfg.MailDir)
		}
	}
	fmt.Fprintf(&b, "  API docs: %s/docs\n\n", listening)
	_, _ = io.WriteString(w, b.String())
}

// adapterSummary names the adapter cfg chose for each port, with its
// address where it has one (never a password).
func adapterSummary(cfg Config) string {
	storage, messaging := "memory", "gochannel (in process)"
	if cfg.DatabaseURL != "" {
		addr, _ := databaseAddress(cfg.DatabaseURL) // validated with the configuration
		storage, messaging = "postgres "+addr, "postgres queue (outbox on the same database)"
		switch {
		case cfg.Messaging.Role == RoleAPI:
			messaging = "outbox on the same database (workers consume it)"
		case cfg.Messaging.Broker == BrokerNATS:
			messaging = "outbox forwarded to nats " + urlAddress(cfg.Messaging.NATSURL)
		case cfg.Messaging.Broker == BrokerAMQP:
			messaging = "outbox forwarded to amqp " + urlAddress(cfg.Messaging.AMQPURL)
		}
	}
	vault := "local keyring " + cfg.KeyringFile
	if cfg.KeyVault == "vault" {
		vault = "vault transit " + urlAddress(cfg.Vault.Addr)
	}
	mail := cfg.Mail.Mailer
	switch mail {
	case "maildir":
		mail += " " + cfg.MailDir
	case "smtp":
		mail += " " + urlAddress(cfg.Mail.SMTPURL)
	}
	return fmt.Sprintf("storage: %s  messaging: %s  key vault: %s  blobs: %s  supplier: %s  payments: %s  mail: %s  rate limits: %s",
		storage, messaging, vault, cfg.blobStore(), strings.Join(cfg.Supplier.Names(), ","), cfg.Payments.PaymentsGateway, mail, cfg.Limits.Store)
}
