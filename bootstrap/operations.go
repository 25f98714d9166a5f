package bootstrap

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// OperationsConfig bounds how long orders may wait and how keyward stops.
type OperationsConfig struct {
	PaymentTimeout  time.Duration `env:"KEYWARD_PAYMENT_TIMEOUT" envDefault:"1h" doc:"an unpaid order expires after this; a payment finishing later holds the order for review"`
	DeliverySLO     time.Duration `env:"KEYWARD_DELIVERY_SLO" envDefault:"10m" doc:"a paid order not delivered within this is flagged (logged and counted)"`
	LinkRetention   time.Duration `env:"KEYWARD_LINK_RETENTION" envDefault:"720h" doc:"delivery links and customers' sign-in links expired this long are deleted by the sweeper (reveals stay in the revelation log and the audit)"`
	GiveUp          time.Duration `env:"KEYWARD_FULFILMENT_GIVE_UP" envDefault:"30m" doc:"a paid order that cannot progress this long is held as \x60needs_review\x60 with the reason"`
	PreorderGrace   time.Duration `env:"KEYWARD_PREORDER_GRACE" envDefault:"48h" doc:"an order waiting for a pre-order's release is not held for review (nor flagged late) before its release date plus this"`
	QueueRetention  time.Duration `env:"KEYWARD_QUEUE_RETENTION" envDefault:"168h" doc:"Postgres queue: a message this old is deleted once the consumer groups reading its topic have acknowledged it; one of a topic no group reads any more (an event an earlier version queued) is deleted at this age alone"`
	QueuePrune      time.Duration `env:"KEYWARD_QUEUE_PRUNE_INTERVAL" envDefault:"10m" doc:"Postgres queue: how often a worker deletes the messages past \x60KEYWARD_QUEUE_RETENTION\x60, the first time a minute after it starts at most (one instance at a time; \x600\x60 keeps every message)"`
	SweepInterval   time.Duration `env:"KEYWARD_SWEEP_INTERVAL" envDefault:"1m" doc:"how often orders are swept for the timeouts above and revoked ciphertext is purged (one instance at a time; \x600\x60 disables)"`
	ShutdownTimeout time.Duration `env:"KEYWARD_SHUTDOWN_TIMEOUT" envDefault:"20s" doc:"on SIGTERM: time to finish in-flight requests and messages before exiting"`
	BreakerOpenFor  time.Duration `env:"KEYWARD_BREAKER_OPEN_FOR" envDefault:"10s" doc:"after 5 failures in a row a dependency's (supplier, payments, mailer, key vault) circuit breaker opens for this long: calls fail at once and work waits, then one call probes it"`
	TokenSecret     []byte        `env:"KEYWARD_TOKEN_SECRET" secret:"true" doc:"derives order access tokens (HMAC of the order id), so a retried \x60POST /v1/orders\x60 with its \x60Idempotency-Key\x60 returns the same token; at least 16 bytes, and beyond loopback 32 bytes of key material (a hex or base64 value counts decoded), the same on every instance; unset: \x60KEYWARD_PAGE_SECRET\x60"`
}

// validate checks the operations settings.
func (c OperationsConfig) validate() error {
	switch {
	case c.PaymentTimeout <= 0:
		return errors.New("KEYWARD_PAYMENT_TIMEOUT must be positive")
	case c.DeliverySLO <= 0:
		return errors.New("KEYWARD_DELIVERY_SLO must be positive")
	case c.LinkRetention <= 0:
		return errors.New("KEYWARD_LINK_RETENTION must be positive")
	case c.QueueRetention <= 0:
		return errors.New("KEYWARD_QUEUE_RETENTION must be positive")
	case c.QueuePrune < 0:
		return errors.New("KEYWARD_QUEUE_PRUNE_INTERVAL must not be negative")
	case c.GiveUp <= 0:
		return errors.New("KEYWARD_FULFILMENT_GIVE_UP must be positive")
	case c.PreorderGrace <= 0:
		return errors.New("KEYWARD_PREORDER_GRACE must be positive")
	case c.BreakerOpenFor <= 0:
		return errors.New("KEYWARD_BREAKER_OPEN_FOR must be positive")
	case c.SweepInterval < 0:
		return errors.New("KEYWARD_SWEEP_INTERVAL must not be negative")
	case c.ShutdownTimeout <= 0:
		return errors.New("KEYWARD_SHUTDOWN_TIMEOUT must be positive")
	case len(c.TokenSecret) > 0 && len(c.TokenSecret) < 16:
		return errors.New("KEYWARD_TOKEN_SECRET needs at least 16 bytes")
	}
	return nil
}

// tokenSecret is the secret order access tokens are derived under.
func (c Config) tokenSecret() []byte {
	if len(c.Operations.TokenSecret) > 0 {
		return c.Operations.TokenSecret
	}
	return c.PageSecret
}

// operationsModule stores idempotency keys and dead letters where keyward
// keeps its data, and requeues replayed dead letters on the publisher.
func operationsModule(cfg Config) fx.Option {
	storage := fx.Provide(
		fx.Annotate(memory.NewIdempotencyKeys, fx.As(new(ports.IdempotencyKeys))),
		fx.Annotate(memory.NewDeadLetters, fx.As(new(ports.DeadLetters))),
	)
	if cfg.DatabaseURL != "" {
		storage = fx.Provide(
			fx.Annotate(func(db *sqlx.DB) *postgres.IdempotencyKeys { return postgres.NewIdempotencyKeys(db) }, fx.As(new(ports.IdempotencyKeys))),
			fx.Annotate(func(db *sqlx.DB) *postgres.DeadLetters { return postgres.NewDeadLetters(db) }, fx.As(new(ports.DeadLetters))),
		)
	}
	// The breakers decorate the ports for the whole application, so they
	// sit outside the module (a module's decorations stay inside it).
	return fx.Options(
		fx.Module("operations",
			storage,
			fx.Provide(
				func(pub message.Publisher) ports.MessageRequeue { return messaging.NewRequeue(pub) },
				newStopping,
			),
		),
		breakersModule(),
	)
}

// stopping is closed when the process begins to stop: message handlers
// waiting between retries give their message back at once.
type stopping struct {
	once sync.Once
	ch   chan struct{}
}

func newStopping() *stopping { return &stopping{ch: make(chan struct{})} }

func (s *stopping) stop() { s.once.Do(func() { close(s.ch) }) }

// stopped reports whether the process has begun to stop.
func (s *stopping) stopped() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

// routerFailures classifies handler errors once (application.ClassifyFailure)
// and dead-letters through the application; hold says whether a
// permanent failure holds the order for review (the pipeline) or not
// (customer notifications: a mail that cannot be sent does not stop an
// order).
func routerFailures(app application.App, s *stopping, hold bool, m *metrics.Metrics) messaging.Failures {
	return messaging.Failures{
		Retried:   m.Retried,
		Delivered: m.Delivered,
		Retryable: func(err error) bool { return application.ClassifyFailure(err) == application.FailureTransient },
		DeadLetter: func(ctx context.Context, l ports.DeadLetter, cause error) error {
			return app.Commands.RecordDeadLetter.Handle(ctx, l, application.ClassifyFailure(cause), hold)
		},
		Stopping: s.ch,
	}
}

// runSweeper makes a sweep pass every SweepInterval.
func runSweeper(lc fx.Lifecycle, cfg Config, app application.App, log *slog.Logger) {
	everyInterval(lc, cfg.Operations.SweepInterval, func(ctx context.Context) {
		if _, err := app.Commands.Sweep.Handle(ctx); err != nil && ctx.Err() == nil {
			log.Error("sweep pass failed", "err", err)
		}
	})
}

// everyInterval runs fn every interval from start until stop (not at all
// for a zero interval); stop waits for a pass in progress.
func everyInterval(lc fx.Lifecycle, interval time.Duration, fn func(context.Context)) {
	if interval <= 0 {
		return
	}
	runInBackground(lc, every(interval, fn))
}

// shutdownTimeout bounds fx's stop: in-flight requests and messages finish
// or are handed back within it.
func shutdownTimeout(cfg Config) time.Duration {
	if cfg.Operations.ShutdownTimeout > 0 {
		return cfg.Operations.ShutdownTimeout
	}
	return 20 * time.Second
}
