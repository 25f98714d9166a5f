package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/webhooksender"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// WebhookConfig configures the outbound webhooks to the shop.
type WebhookConfig struct {
	SecretOverlap time.Duration `env:"KEYWARD_WEBHOOK_SECRET_OVERLAP" envDefault:"24h" doc:"after a secret rotation, the old secret keeps signing beside the new one (two signatures in \x60webhook-signature\x60) this long"`
	RetrySchedule string        `env:"KEYWARD_WEBHOOK_RETRY_SCHEDULE" envDefault:"5s,5m,30m,2h,5h,10h,10h" doc:"delays between the attempts of a webhook message (comma-separated durations, each with up to 10 % jitter); after the last, the message has failed"`
	Timeout       time.Duration `env:"KEYWARD_WEBHOOK_TIMEOUT" envDefault:"10s" doc:"a webhook attempt succeeds on a 2xx answer within this time"`
	DisableAfter  time.Duration `env:"KEYWARD_WEBHOOK_DISABLE_AFTER" envDefault:"120h" doc:"a webhook endpoint failing every delivery this long is disabled (logged, counted, and emailed to \x60KEYWARD_OPERATOR_EMAIL\x60)"`
	Retention     time.Duration `env:"KEYWARD_WEBHOOK_RETENTION" envDefault:"720h" doc:"delivered and failed webhook messages, with their attempts, are purged after this long"`
	AllowPrivate  bool          `env:"KEYWARD_WEBHOOK_ALLOW_PRIVATE" envDefault:"false" doc:"development and tests: webhook endpoints may use plain http and private, loopback or link-local addresses"`
	OperatorEmail string        `env:"KEYWARD_OPERATOR_EMAIL" doc:"where keyward emails operators (a webhook endpoint it disabled); unset: nobody"`
	StockLow      int           `env:"KEYWARD_STOCK_LOW_THRESHOLD" envDefault:"0" doc:"a claim of own stock that leaves fewer available keys of a product than this sends a \x60stock.low\x60 webhook, at most once a day per product (0: never; otherwise one more statement per own-stock item)"`
	BalanceLow    float64       `env:"KEYWARD_SUPPLIER_BALANCE_LOW" envDefault:"0" doc:"a supplier balance below this (in its currency; Kinguin: EUR) sends a \x60supplier.balance_low\x60 webhook, at most once a day (0: never)"`
}

func (c WebhookConfig) validate() error {
	if _, err := domain.ParseWebhookRetrySchedule(c.RetrySchedule); err != nil {
		return fmt.Errorf("KEYWARD_WEBHOOK_RETRY_SCHEDULE: %w", err)
	}
	switch {
	case c.SecretOverlap < 0:
		return fmt.Errorf("KEYWARD_WEBHOOK_SECRET_OVERLAP must not be negative, got %s", c.SecretOverlap)
	case c.Timeout <= 0:
		return fmt.Errorf("KEYWARD_WEBHOOK_TIMEOUT must be positive, got %s", c.Timeout)
	case c.DisableAfter <= 0:
		return fmt.Errorf("KEYWARD_WEBHOOK_DISABLE_AFTER must be positive, got %s", c.DisableAfter)
	case c.Retention <= 0:
		return fmt.Errorf("KEYWARD_WEBHOOK_RETENTION must be positive, got %s", c.Retention)
	case c.StockLow < 0:
		return fmt.Errorf("KEYWARD_STOCK_LOW_THRESHOLD must not be negative, got %d", c.StockLow)
	case c.BalanceLow < 0:
		return fmt.Errorf("KEYWARD_SUPPLIER_BALANCE_LOW must not be negative, got %v", c.BalanceLow)
	}
	if c.OperatorEmail != "" {
		if _, err := domain.ParseEmail(c.OperatorEmail); err != nil {
			return fmt.Errorf("KEYWARD_OPERATOR_EMAIL: %w", err)
		}
	}
	return nil
}

func (c WebhookConfig) settings() application.WebhookSettings {
	schedule, _ := domain.ParseWebhookRetrySchedule(c.RetrySchedule) // validated with the configuration
	overlap := c.SecretOverlap
	if overlap == 0 {
		overlap = -1 // no overlap, as configured
	}
	return application.WebhookSettings{SecretOverlap: overlap, AllowPrivate: c.AllowPrivate, RetrySchedule: schedule, DisableAfter: c.DisableAfter,
		Retention: c.Retention, OperatorEmail: c.OperatorEmail, UserAgent: "keyward/" + Version, Timeout: c.Timeout}
}

// webhookWake has the delivery worker look for messages at once: the
// memory store rings it when it writes one (a Postgres worker polls, as
// the writer may be another process).
type webhookWake chan struct{}

// webhooksModule stores the webhook endpoints and messages beside the
// rest, has every save that emits an event write its webhook messages
// (in the same transaction on Postgres), and provides what the webhook
// use cases send with. The use cases themselves (newWebhooks) are built
// with the application inside processModule, on the decorated ports. The
// delivery worker is webhookWorkerModule.
func webhooksModule(cfg Config) fx.Option {
	common := fx.Provide(
		func() webhookWake { return make(webhookWake, 1) },
		func(c Config) ports.WebhookSender {
			return webhooksender.New(webhooksender.Config{Timeout: c.Webhooks.Timeout, AllowPrivate: c.Webhooks.AllowPrivate})
		},
	)
	if cfg.DatabaseURL != "" {
		return fx.Options(common,
			fx.Provide(postgres.NewWebhooks, func(w *postgres.Webhooks) ports.WebhookStore { return w }),
			fx.Decorate(func(o postgres.Outbox, w *postgres.Webhooks, ids ports.IDs) postgres.Outbox {
				return postgres.NewWebhookOutbox(o, w, ids)
			}),
		)
	}
	return fx.Options(common,
		fx.Provide(memory.NewWebhooks, func(w *memory.Webhooks) ports.WebhookStore { return w }),
		fx.Decorate(func(p ports.EventPublisher, w *memory.Webhooks, ids ports.IDs, wake webhookWake) ports.EventPublisher {
			return memory.NewWebhookPublisher(p, w, ids, func() {
				select {
				case wake <- struct{}{}:
				default:
				}
			})
		}),
	)
}

type webhookDeps struct {
	fx.In
	Config   Config
	Store    ports.WebhookStore
	Sender   ports.WebhookSender
	Tx       ports.Transactor
	Audit    ports.AuditLog
	Mailer   ports.Mailer
	Clock    ports.Clock
	IDs      ports.IDs
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	Vault    ports.KeyVault
	DataKeys ports.DataKeyRepository
}

func newWebhooks(d webhookDeps) *application.Webhooks {
	return application.NewWebhooks(application.WebhookDeps{Store: d.Store, Sender: d.Sender, Tx: d.Tx, Audit: d.Audit, Mailer: d.Mailer,
		Clock: d.Clock, IDs: d.IDs, Log: d.Log.With("component", "webhooks"), Observer: d.Metrics.Webhooks(), Vault: d.Vault, DataKeys: d.DataKeys}, d.Config.Webhooks.settings())
}

// The delivery worker looks for due messages it was not woken for
// (retries, and other processes' messages) every
// KEYWARD_QUEUE_FALLBACK_POLL, like the queue's consumers;
// webhookPurge is how often it purges those past their retention,
// webhookBalance how often it reads the suppliers' balances.
const (
	webhookPurge   = time.Hour
	webhookBalance = 5 * time.Minute
)

// webhookWorkerModule delivers the webhook messages in a process that
// runs the workers.
func webhookWorkerModule(cfg Config) fx.Option {
	if cfg.Messaging.Role == RoleAPI {
		return fx.Options()
	}
	return fx.Invoke(runWebhookWorker, runBalanceCheck)
}

type balanceCheck struct {
	fx.In
	Config    Config
	Webhooks  *application.Webhooks
	Suppliers ports.Suppliers
	Log       *slog.Logger
}

// runBalanceCheck reads each supplier's balance every few minutes, for
// those that report one, when KEYWARD_SUPPLIER_BALANCE_LOW is set, and
// tells the shop when one is low.
func runBalanceCheck(lc fx.Lifecycle, p balanceCheck) {
	threshold := p.Config.Webhooks.BalanceLow
	balances := p.Suppliers.Balances()
	if len(balances) == 0 || threshold <= 0 {
		return
	}
	runInBackground(lc, every(webhookBalance, func(ctx context.Context) {
		for _, r := range balances {
			name := r.Supplier.Name()
			balance, err := r.Balance.Balance(ctx)
			if err != nil {
				p.Log.Debug("supplier balance not read; the next check retries", "supplier", name, "err", err)
				continue
			}
			if err := p.Webhooks.CheckSupplierBalance(ctx, name, balance, threshold); err != nil && ctx.Err() == nil {
				p.Log.Warn("supplier.balance_low webhook not written; the next check retries", "supplier", name, "err", err)
			}
		}
	}))
}

// runWebhookWorker sends due messages until the stop, which waits for
// the attempts under way (each bounded by KEYWARD_WEBHOOK_TIMEOUT); one
// cut short is sent again once its lease lapses.
func runWebhookWorker(lc fx.Lifecycle, cfg Config, w *application.Webhooks, wake webhookWake, log *slog.Logger) {
	log = log.With("component", "webhooks")
	runInBackground(lc, func(ctx context.Context) {
		poll, purge := time.NewTicker(cfg.Tuning.QueueFallbackPoll), time.NewTicker(webhookPurge)
		defer poll.Stop()
		defer purge.Stop()
		defer w.Wait()
		for {
			if _, err := w.Deliver(ctx); err != nil && ctx.Err() == nil {
				log.Warn("webhook messages not claimed; the next pass retries", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
			case <-wake:
			case <-w.Woken():
			case <-purge.C:
				if n, err := w.Purge(ctx); err != nil && ctx.Err() == nil {
					log.Warn("webhook messages not purged; the next pass retries", "err", err)
				} else if n > 0 {
					log.Info("webhook messages purged past their retention", "messages", n)
				}
			}
		}
	})
}
