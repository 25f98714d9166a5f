package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// PostgresModule stores everything in Postgres (KEYWARD_DATABASE_URL),
// ciphertext too unless KEYWARD_BLOB_STORE says otherwise (blobs.go), and
// publishes order events through the
// transactional outbox. The start fails when the schema is behind, unless
// KEYWARD_MIGRATE_ON_START is set.
var PostgresModule = fx.Module("storage.postgres",
	auditKeyProviders,
	fx.Decorate(func(o postgres.Outbox, m *metrics.Metrics) postgres.Outbox { return countedOutbox{o, m} }),
	fx.Provide(
		func(lc fx.Lifecycle, cfg Config, c *postgres.SQLCounter) (*sqlx.DB, error) {
			db, err := openDatabase(cfg, c)
			if err != nil {
				return nil, err
			}
			db.SetMaxOpenConns(cfg.Tuning.DatabaseConns)
			db.SetMaxIdleConns(cfg.Tuning.DatabaseConns)
			lc.Append(fx.Hook{
				OnStart: func(ctx context.Context) error {
					if cfg.MigrateOnStart {
						return postgres.MigrateUp(ctx, db.DB)
					}
					return postgres.CheckSchema(ctx, db.DB)
				},
				OnStop: func(context.Context) error { return db.Close() },
			})
			return db, nil
		},
		func(cfg Config, log *slog.Logger) postgres.Outbox {
			return messaging.NewSQLOutbox(log, cfg.QueuePartitions)
		},
		fx.Annotate(postgres.NewOrders, fx.As(new(ports.OrderRepository)), fx.As(new(ports.OrderCounter)), fx.As(new(ports.ItemsBoughtCounter))),
		fx.Annotate(postgres.NewLinks, fx.As(new(ports.DeliveryLinkRepository))),
		fx.Annotate(postgres.NewCustomerLinks, fx.As(new(ports.CustomerLinkRepository)), fx.As(new(ports.CustomerAccessRequests))),
		fx.Annotate(postgres.NewClaims, fx.As(new(ports.ClaimRepository))),
		fx.Annotate(postgres.NewRevelations, fx.As(new(ports.RevelationLog))),
		fx.Annotate(postgres.NewCatalog, fx.As(new(ports.CatalogRepository))),
		fx.Annotate(postgres.NewOffers, fx.As(new(ports.OfferRepository))),
		fx.Annotate(postgres.NewSyncRuns, fx.As(new(ports.SyncRunRepository))),
		fx.Annotate(postgres.NewPricingRules, fx.As(new(ports.PricingRules))),
		fx.Annotate(postgres.NewNotifications, fx.As(new(ports.PaymentNotificationLog))),
		fx.Annotate(postgres.NewDataKeys, fx.As(new(ports.DataKeyRepository))),
		postgres.NewAuditLog,
		func(a *postgres.AuditLog) ports.AuditLog { return a },
		fx.Annotate(postgres.NewAdminKeys, fx.As(new(ports.AdminKeys))),
		fx.Annotate(postgres.NewLocks, fx.As(new(ports.Locks))),
		fx.Annotate(postgres.NewTransactor, fx.As(new(ports.Transactor))),
		fx.Annotate(postgres.NewSupplierEventMarks, fx.As(new(ports.SupplierEventMarks))),
		fx.Annotate(func(db *sqlx.DB) ports.HealthCheck {
			return ports.HealthCheck{Name: "postgres", Check: db.PingContext}
		}, fx.ResultTags(`group:"health"`)),
	),
	fx.Invoke(runAuditSealer, unattributedPurchasesCheck),
)

// databaseConnectTimeout bounds the first connection: a host that drops
// packets would otherwise hold the start for the system's TCP timeout.
const databaseConnectTimeout = 15 * time.Second

// openDatabase connects to KEYWARD_DATABASE_URL. It returns an error
// naming the variable and the database's address (never its password):
// malformed, down or unreachable, or refusing keyward (with its reason).
func openDatabase(cfg Config, c *postgres.SQLCounter) (*sqlx.DB, error) {
	addr, err := databaseAddress(cfg.DatabaseURL)
	if err != nil {
		return nil, redactError(fmt.Errorf("KEYWARD_DATABASE_URL is not a Postgres URL such as postgres://host:5432/keyward?sslmode=disable: %w", err), cfg.urlSecrets())
	}
	ctx, cancel := context.WithTimeout(context.Background(), databaseConnectTimeout)
	defer cancel()
	db, err := postgres.OpenCounting(ctx, cfg.DatabaseURL, c)
	if err != nil {
		return nil, redactError(unavailable("KEYWARD_DATABASE_URL", "Postgres", addr, err), cfg.urlSecrets())
	}
	return db, nil
}

// runAuditSealer chains the audit records units of work staged (see
// postgres.AuditLog) as soon as they commit, and once more on stop, so
// that a short-lived command leaves none behind. Every
// KEYWARD_AUDIT_SEAL_PASS it looks for staged records it was not woken
// for (another process's, or one's that stopped between a commit and its
// seal); a woken sealer lets more commits arrive for
// KEYWARD_AUDIT_SEAL_GATHER, so that under load one sealing transaction
// chains many records rather than one each.
func runAuditSealer(lc fx.Lifecycle, cfg Config, audit *postgres.AuditLog, log *slog.Logger) {
	pass, gather := cfg.Tuning.AuditSealPass, cfg.Tuning.AuditSealGather
	seal := func(ctx context.Context) {
		if _, err := audit.Seal(ctx); err != nil && ctx.Err() == nil {
			log.Error("audit records not chained yet; the next pass retries", "err", err)
		}
	}
	runInBackground(lc, func(ctx context.Context) {
		t := time.NewTicker(pass)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-audit.Staged():
				select {
				case <-ctx.Done():
					return // the stop hook seals once more
				case <-time.After(gather):
				}
			case <-t.C:
			}
			seal(ctx)
		}
	})
	lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
		seal(ctx)
		return nil
	}})
}

// SQLMessagingModule is the outbox in the same Postgres: business
// transactions write their events to it; the router consumes them there
// or, with a broker, from where they are forwarded (brokers.go).
var SQLMessagingModule = fx.Module("messaging.sql",
	fx.Decorate(quietOnStop),
	fx.Provide(
		newQueueOptions,
		func(db *sqlx.DB, opts messaging.SQLQueueOptions, log *slog.Logger) (*wsql.Subscriber, error) {
			return messaging.NewSQLSubscriber(db.DB, log.With("component", "sql-subscriber"), opts)
		},
		func(db *sqlx.DB, log *slog.Logger) (message.Publisher, error) {
			return messaging.NewSQLPublisher(db.DB, log.With("component", "sql-publisher"))
		},
		func(cfg Config) Partitions { return Partitions(cfg.QueuePartitions) },
		findLeftovers,
	),
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, sub *wsql.Subscriber) {
		lc.Append(fx.Hook{OnStart: func(context.Context) error {
			return messaging.InitializeTopics(sub, cfg.QueuePartitions, domain.QueueEventNames...)
		}})
	}),
)
