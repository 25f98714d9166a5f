package bootstrap

import (
	"context"
	"log/slog"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/domain"
)

// MetricsModule provides keyward's Prometheus metrics (served at /metrics
// by the API and by a worker's ops endpoints) and, with Postgres, the
// gauges read from it on scrape: orders by status, queue lag, dead letters
// and the connection pool.
var MetricsModule = fx.Module("metrics",
	fx.Provide(metrics.New),
	fx.Invoke(registerStorageMetrics),
)

// queuedEvents are the events the pipeline consumes as group
// messaging.ConsumerGroup; their lag is the queue lag (with a broker, the
// forwarder reads the outbox as that group: its lag is what is not yet
// forwarded).
var queuedEvents = []string{domain.EventOrderPlaced, domain.EventOrderPaid, domain.EventFulfilmentRetried, domain.EventOrderFulfilled}

type storageMetricsParams struct {
	fx.In
	Metrics *metrics.Metrics
	Config  Config
	DB      *sqlx.DB `optional:"true"`
	Log     *slog.Logger
}

func registerStorageMetrics(p storageMetricsParams) {
	if p.DB == nil {
		return
	}
	db, m, log := p.DB, p.Metrics, p.Log.With("component", "metrics")
	m.Registry().MustRegister(collectors.NewDBStatsCollector(db.DB, "keyward"))
	m.Gauge("orders", "Orders by status.", []string{"status"}, func(ctx context.Context) ([]metrics.Sample, error) {
		counts, err := postgres.OrderCounts(ctx, db)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.Sample, 0, len(domain.OrderStatuses))
		for _, s := range domain.OrderStatuses {
			out = append(out, metrics.Sample{Labels: []string{s.String()}, Value: float64(counts[s.String()])})
		}
		return out, nil
	}, log)
	var topics []string
	for _, ev := range queuedEvents {
		topics = append(topics, messaging.PartitionTopics(ev, p.Config.QueuePartitions)...)
	}
	lag := func(ctx context.Context) (map[string]messaging.TopicLag, error) {
		lags, err := messaging.SQLQueueLag(ctx, db.DB, messaging.ConsumerGroup, topics)
		if err != nil {
			return nil, err
		}
		// One series per event name: the partitions are an implementation
		// detail, summed (pending) or maxed (oldest age).
		byEvent := map[string]messaging.TopicLag{}
		for _, ev := range queuedEvents {
			byEvent[ev] = messaging.TopicLag{Topic: ev}
		}
		for i, l := range lags {
			ev := queuedEvents[i/max(1, p.Config.QueuePartitions)]
			agg := byEvent[ev]
			agg.Pending += l.Pending
			agg.OldestAgeSeconds = max(agg.OldestAgeSeconds, l.OldestAgeSeconds)
			byEvent[ev] = agg
		}
		return byEvent, nil
	}
	m.Gauge("queue_pending_messages", "Messages not yet consumed (or, with a broker, not yet forwarded), by topic.", []string{"topic"},
		func(ctx context.Context) ([]metrics.Sample, error) {
			byEvent, err := lag(ctx)
			return lagSamples(byEvent, func(l messaging.TopicLag) float64 { return float64(l.Pending) }), err
		}, log)
	m.Gauge("queue_oldest_message_age_seconds", "Age of the oldest message not yet consumed (or forwarded), by topic.", []string{"topic"},
		func(ctx context.Context) ([]metrics.Sample, error) {
			byEvent, err := lag(ctx)
			return lagSamples(byEvent, func(l messaging.TopicLag) float64 { return l.OldestAgeSeconds }), err
		}, log)
	m.Gauge("dead_letters", "Dead letters waiting for an operator.", nil, func(ctx context.Context) ([]metrics.Sample, error) {
		n, err := messaging.DeadLetterCount(ctx, db.DB)
		return []metrics.Sample{{Value: float64(n)}}, err
	}, log)
}

func lagSamples(byEvent map[string]messaging.TopicLag, value func(messaging.TopicLag) float64) []metrics.Sample {
	out := make([]metrics.Sample, 0, len(byEvent))
	for _, ev := range queuedEvents {
		out = append(out, metrics.Sample{Labels: []string{ev}, Value: value(byEvent[ev])})
	}
	return out
}

// instrumentDeps measures the calls the application makes to its external
// dependencies and counts reveals and deliveries. It wraps the ports fx
// resolved, after any decoration of them (tests freeze a process at a
// port): what is measured is what the application calls.
func instrumentDeps(p appDeps) appDeps {
	m := p.Metrics
	p.Supplier, p.Gateway, p.Vault = m.Supplier(p.Supplier), m.Gateway(p.Gateway), m.KeyVault(p.Vault)
	p.Mailer, p.Blobs = m.Mailer(p.Mailer), m.BlobStore(p.Blobs)
	p.Revelations, p.Orders = m.Revelations(p.Revelations), m.Orders(p.Orders)
	return p
}
