package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// GoChannelModule carries events in process with Watermill's gochannel.
var GoChannelModule = fx.Module("messaging.gochannel",
	fx.Provide(
		func(log *slog.Logger) *gochannel.GoChannel {
			return gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024}, watermill.NewSlogLogger(log.With("component", "gochannel")))
		},
		func(g *gochannel.GoChannel) message.Publisher { return g },
		func(g *gochannel.GoChannel) message.Subscriber { return g },
		fx.Annotate(messaging.NewPublisher, fx.As(new(ports.EventPublisher))),
		func() Partitions { return 1 },
		func() leftovers { return nil },
	),
)

// Partitions is how many topics each event name is spread over; each is
// consumed on its own, in parallel (one in process, several on Postgres).
type Partitions int

// PipelineModule runs the asynchronous pipeline: paid or retried orders are
// fulfilled and, in the same handler run, delivered (order.fulfilled and
// order.delivered reach the shop's webhooks, the timeline and the audit
// trail, and are not queued: no handler needs them); a paid order not
// delivered in that run gets its payment's confirmation email from it too
// (application.FulfilPaid).
var PipelineModule = fx.Module("pipeline",
	fx.Decorate(quietOnStop),
	fx.Provide(
		newPipeline,
		func() *routerHealth { return &routerHealth{} },
		fx.Annotate(func(h *routerHealth) ports.HealthCheck {
			return ports.HealthCheck{Name: "messaging", Check: h.check}
		}, fx.ResultTags(`group:"health"`)),
	),
	fx.Invoke(runPipeline),
)

// routerHealth reports whether the message router runs. It is set once the
// router is built: the readiness check is part of the application, which
// the router's handlers need, so the check cannot take the router itself.
type routerHealth struct {
	router atomic.Pointer[message.Router]
}

func (h *routerHealth) check(context.Context) error {
	r := h.router.Load()
	if r == nil || !r.IsRunning() || r.IsClosed() {
		return fmt.Errorf("message router is not running")
	}
	return nil
}

// consumerRoute is an event a consumer group reads and what handles it.
type consumerRoute struct {
	name, event string
	handle      func(context.Context, domain.OrderEvent) error
}

// pipelineRoutes are the pipeline's consumers, one an event name.
func pipelineRoutes(app application.App) []consumerRoute {
	byOrder := func(f func(context.Context, string) error) func(context.Context, domain.OrderEvent) error {
		return func(ctx context.Context, ev domain.OrderEvent) error { return f(ctx, ev.OrderID) }
	}
	return []consumerRoute{
		{"set-up-payment", domain.EventOrderPlaced, byOrder(app.Commands.SetUpPayment.Handle)},
		// The payment's confirmation email goes from the same handling.
		{"fulfil-paid", domain.EventOrderPaid, withConcludingAck(app.Commands.FulfilPaid.Handle)},
		{"fulfil-retried", domain.EventFulfilmentRetried, withConcludingAck(byOrder(app.Commands.FulfilOrder.Handle))},
	}
}

// withConcludingAck has the unit of work that concludes a handling on the
// SQL queue (ports.Concluding: the mark that an order is delivered)
// acknowledge its message with its own writes (postgres.ConcludeIn), so
// that the consume transaction writes nothing: one write transaction an
// order fewer. On another queue it is handle as it is.
func withConcludingAck(handle func(context.Context, domain.OrderEvent) error) func(context.Context, domain.OrderEvent) error {
	return func(ctx context.Context, ev domain.OrderEvent) error {
		if tx, ok := messaging.ConsumeTxFrom(ctx); ok {
			ctx = postgres.ConcludeIn(ctx, tx)
		}
		return handle(ctx, ev)
	}
}

// routeHandlers are the handlers of routes, one a partition's topic, and
// one a topic that another partition count left unread for group, until
// it is read.
func routeHandlers(routes []consumerRoute, parts Partitions, group string, left leftovers) []messaging.Handler {
	var handlers []messaging.Handler
	for _, route := range routes {
		for _, topic := range messaging.PartitionTopics(route.event, int(parts)) {
			handlers = append(handlers, messaging.Handler{Name: route.name + "@" + topic, Topic: topic, Handle: route.handle})
		}
		for _, l := range left[leftoverKey{group, route.event}] {
			handlers = append(handlers, messaging.Handler{Name: route.name + "@" + l.topic, Topic: l.topic, Handle: route.handle, Until: l.drained})
		}
	}
	return handlers
}

// queueReaders are, by event name, the consumer groups that read it from
// the Postgres queue: the pipeline's (directly, or through the forwarder
// to a broker) and the customer notifications'.
func queueReaders(app application.App) map[string][]string {
	readers := map[string][]string{}
	for _, r := range pipelineRoutes(app) {
		readers[r.event] = append(readers[r.event], messaging.ConsumerGroup)
	}
	for _, r := range notificationRoutes(app) {
		readers[r.event] = append(readers[r.event], notificationConsumerGroup)
	}
	for ev, groups := range readers {
		readers[ev] = slices.Compact(slices.Sorted(slices.Values(groups)))
	}
	return readers
}

// queueTopics are the topics of the Postgres queue, under every partition
// count (KEYWARD_QUEUE_PARTITIONS may have been another), with the
// consumer groups that read each. The events that are not queued
// (domain.QueueEventNames) come with no group: their tables hold what
// earlier versions wrote, which nobody reads now.
func queueTopics(app application.App) []messaging.QueueTopic {
	readers := queueReaders(app)
	var topics []messaging.QueueTopic
	for _, name := range slices.Compact(slices.Sorted(slices.Values(slices.Concat(domain.OrderEventNames, domain.CustomerEventNames)))) {
		for _, topic := range slices.Concat(messaging.PartitionTopics(name, 1), messaging.PartitionTopics(name, messaging.MaxPartitions)) {
			topics = append(topics, messaging.QueueTopic{Name: topic, Groups: readers[name]})
		}
	}
	return topics
}

func newPipeline(cfg Config, parts Partitions, left leftovers, sub message.Subscriber, stop *stopping, app application.App, health *routerHealth, m *metrics.Metrics, log *slog.Logger) (*message.Router, error) {
	handlers := routeHandlers(pipelineRoutes(app), parts, messaging.ConsumerGroup, left)
	policy := messaging.RetryPolicy{MaxRetries: cfg.RetryMaxAttempts, InitialInterval: cfg.RetryInitialDelay, MaxInterval: cfg.RetryMaxDelay}
	r, err := messaging.NewRouter(sub, policy, routerFailures(app, stop, true, m), log.With("component", "router"), handlers...)
	if err != nil {
		return nil, err
	}
	health.router.Store(r)
	return r, nil
}

func runPipeline(lc fx.Lifecycle, router *message.Router, stop *stopping, log *slog.Logger) {
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			go func() {
				defer close(done)
				if err := router.Run(runCtx); err != nil {
					log.Error("router stopped", "err", err)
				}
			}()
			select {
			case <-router.Running():
				return nil
			case <-done:
				return fmt.Errorf("message router did not start")
			case <-ctx.Done():
				return ctx.Err()
			}
		},
		OnStop: func(ctx context.Context) error {
			// Handlers waiting between retries hand their message back;
			// running ones finish within the router's close timeout.
			stop.stop()
			cancel()
			err := router.Close()
			select {
			case <-done:
			case <-ctx.Done():
			}
			return err
		},
	})
}
