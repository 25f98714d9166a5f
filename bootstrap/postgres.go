package bootstrap

import (
	"context"
	"fmt"
	"log/slog"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
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
	fx.Provide(
		func(lc fx.Lifecycle, cfg Config) (*sqlx.DB, error) {
			db, err := postgres.Open(context.Background(), cfg.DatabaseURL)
			if err != nil {
				return nil, fmt.Errorf("connect to KEYWARD_DATABASE_URL: %w", err)
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
		fx.Annotate(postgres.NewOrders, fx.As(new(ports.OrderRepository))),
		fx.Annotate(postgres.NewLinks, fx.As(new(ports.DeliveryLinkRepository))),
		fx.Annotate(postgres.NewRevelations, fx.As(new(ports.RevelationLog))),
		fx.Annotate(postgres.NewCatalog, fx.As(new(ports.CatalogRepository))),
		fx.Annotate(postgres.NewSyncRuns, fx.As(new(ports.SyncRunRepository))),
		fx.Annotate(postgres.NewPricingRules, fx.As(new(ports.PricingRules))),
		fx.Annotate(postgres.NewNotifications, fx.As(new(ports.PaymentNotificationLog))),
		fx.Annotate(postgres.NewDataKeys, fx.As(new(ports.DataKeyRepository))),
		fx.Annotate(postgres.NewAuditLog, fx.As(new(ports.AuditLog))),
		fx.Annotate(postgres.NewAdminKeys, fx.As(new(ports.AdminKeys))),
		fx.Annotate(postgres.NewLocks, fx.As(new(ports.Locks))),
		fx.Annotate(postgres.NewTransactor, fx.As(new(ports.Transactor))),
		fx.Annotate(postgres.NewSupplierEventMarks, fx.As(new(ports.SupplierEventMarks))),
		fx.Annotate(func(db *sqlx.DB) ports.HealthCheck {
			return ports.HealthCheck{Name: "postgres", Check: db.PingContext}
		}, fx.ResultTags(`group:"health"`)),
	),
)

// SQLMessagingModule is the outbox in the same Postgres: business
// transactions write their events to it; the router consumes them there
// or, with a broker, from where they are forwarded (brokers.go).
var SQLMessagingModule = fx.Module("messaging.sql",
	fx.Provide(
		newQueueOptions,
		func(db *sqlx.DB, opts messaging.SQLQueueOptions, log *slog.Logger) (*wsql.Subscriber, error) {
			return messaging.NewSQLSubscriber(db.DB, log.With("component", "sql-subscriber"), opts)
		},
		func(db *sqlx.DB, log *slog.Logger) (message.Publisher, error) {
			return messaging.NewSQLPublisher(db.DB, log.With("component", "sql-publisher"))
		},
		func(cfg Config) Partitions { return Partitions(cfg.QueuePartitions) },
	),
	fx.Invoke(func(lc fx.Lifecycle, cfg Config, sub *wsql.Subscriber) {
		lc.Append(fx.Hook{OnStart: func(context.Context) error {
			return messaging.InitializeTopics(sub, cfg.QueuePartitions, domain.OrderEventNames...)
		}})
	}),
)
