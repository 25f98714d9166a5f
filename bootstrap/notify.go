package bootstrap

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// NotificationsModule emails customers about their orders' events
// (application.NotifyCustomer) on a router of its own. On Postgres it
// consumes as a consumer group of its own: the subscribers of one group
// share a topic's messages, so a notification handler in the pipeline's
// group would take messages away from the pipeline's handlers. Apart, a
// slow mail service never holds up fulfilment either. In process the
// gochannel hands every message to every subscriber. order.paid is not
// among its events: fulfilment's handling of it sends the payment's
// confirmation (application.FulfilPaid).
var NotificationsModule = fx.Module("notifications",
	fx.Decorate(quietOnStop),
	fx.Provide(
		fx.Private,
		newNotificationSubscriber,
		newNotificationRouter,
		func() *notificationHealth { return &notificationHealth{} },
	),
	fx.Provide(
		fx.Annotate(func(h *notificationHealth) ports.HealthCheck {
			return ports.HealthCheck{Name: "notifications", Check: h.check}
		}, fx.ResultTags(`group:"health"`)),
	),
	fx.Invoke(func(lc fx.Lifecycle, r notificationRouter, stop *stopping, log *slog.Logger) {
		runPipeline(lc, r.Router, stop, log.With("component", "notifications"))
	}),
)

// notificationConsumerGroup is the Postgres consumer group of notifications.
const notificationConsumerGroup = messaging.ConsumerGroup + ".notifications"

type notificationSubscriber struct{ message.Subscriber }

type notificationRouter struct{ *message.Router }

// sharedSubscriber leaves closing the in-process subscriber to the
// pipeline, whose router owns it: a router closes its subscribers when it
// stops.
type sharedSubscriber struct{ message.Subscriber }

func (sharedSubscriber) Close() error { return nil }

type notificationHealth struct{ routerHealth }

type notificationSubscriberDeps struct {
	fx.In
	Lifecycle fx.Lifecycle
	Shared    message.Subscriber
	DB        *sqlx.DB                  `optional:"true"` // provided with KEYWARD_DATABASE_URL
	Queue     messaging.SQLQueueOptions `optional:"true"` // likewise
	Log       *slog.Logger
}

// maxNotificationBatch caps the notifications consumer's batch
// (KEYWARD_QUEUE_BATCH_SIZE): each message it handles takes a savepoint in
// the consume transaction (postgres.InConsumeTx) that lives until the
// batch commits, and past 64 subtransactions Postgres' per-backend cache
// overflows, which slows every other session's snapshots.
const maxNotificationBatch = 32

// notificationQueue is q with its batch capped at maxNotificationBatch (0,
// Watermill's 100, too).
func notificationQueue(q messaging.SQLQueueOptions) messaging.SQLQueueOptions {
	if q.BatchSize <= 0 || q.BatchSize > maxNotificationBatch {
		q.BatchSize = maxNotificationBatch
	}
	return q
}

func newNotificationSubscriber(d notificationSubscriberDeps) (notificationSubscriber, error) {
	if d.DB == nil {
		return notificationSubscriber{sharedSubscriber{d.Shared}}, nil
	}
	sub, err := messaging.NewSQLSubscriberGroup(d.DB.DB, d.Log.With("component", "notifications"), notificationConsumerGroup, notificationQueue(d.Queue))
	if err != nil {
		return notificationSubscriber{}, err
	}
	d.Lifecycle.Append(fx.Hook{OnStop: func(context.Context) error { return sub.Close() }})
	return notificationSubscriber{sub}, nil
}

// notificationRoutes are the customer notifications' consumers, one an
// event name.
func notificationRoutes(app application.App) []consumerRoute {
	var routes []consumerRoute
	for _, event := range application.NotifiedEvents() {
		routes = append(routes, consumerRoute{"notify-customer", event, withConsumeTx(app.Commands.NotifyCustomer.Handle)})
	}
	// Sign-in links answer access requests apart from the request, so that
	// the request tells nobody whether an address has orders.
	for _, event := range domain.CustomerEventNames {
		routes = append(routes, consumerRoute{"customer-sign-in", event, app.Commands.SendCustomerSignIn.Handle})
	}
	return routes
}

func newNotificationRouter(cfg Config, parts Partitions, left leftovers, sub notificationSubscriber, stop *stopping, app application.App, health *notificationHealth, m *metrics.Metrics, log *slog.Logger) (notificationRouter, error) {
	handlers := routeHandlers(notificationRoutes(app), parts, notificationConsumerGroup, left)
	policy := messaging.RetryPolicy{MaxRetries: cfg.RetryMaxAttempts, InitialInterval: cfg.RetryInitialDelay, MaxInterval: cfg.RetryMaxDelay}
	r, err := messaging.NewRouter(sub, policy, routerFailures(app, stop, false, m), log.With("component", "notifications"), handlers...)
	if err != nil {
		return notificationRouter{}, err
	}
	health.router.Store(r)
	return notificationRouter{r}, nil
}

// withConsumeTx runs handle inside the transaction in which the SQL queue
// consumes its message (postgres.InConsumeTx), so that what it writes (a
// notification's "email sent" audit record) commits with the
// acknowledgement or not at all: one transaction instead of two, and a
// failed attempt leaves nothing. On another queue it is handle as it is.
func withConsumeTx(handle func(context.Context, domain.OrderEvent) error) func(context.Context, domain.OrderEvent) error {
	return func(ctx context.Context, ev domain.OrderEvent) error {
		tx, ok := messaging.ConsumeTxFrom(ctx)
		if !ok {
			return handle(ctx, ev)
		}
		return postgres.InConsumeTx(ctx, tx, func(ctx context.Context) error { return handle(ctx, ev) })
	}
}
