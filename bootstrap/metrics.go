package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// MetricsModule provides keyward's Prometheus metrics (served at /metrics
// by the API and by a worker's ops endpoints) and the gauges read on
// scrape. Every mode has orders by status, dead letters, the circuit
// breakers and (with a supplier that reports one) the supplier balance;
// with Postgres also the queue lag, the audit sealer's backlog and the
// connection pool (the in-process queue and audit log have no backlog to
// show).
var MetricsModule = fx.Module("metrics",
	fx.Provide(metrics.New),
	sqlCountsModule,
	fx.Invoke(registerOperationalMetrics, registerStorageMetrics),
)

// queuedEvents are the events the pipeline consumes as group
// messaging.ConsumerGroup; their lag is the queue lag (with a broker, the
// forwarder reads the outbox as that group: its lag is what is not yet
// forwarded).
var queuedEvents = []string{domain.EventOrderPlaced, domain.EventOrderPaid, domain.EventFulfilmentRetried}

// balanceEvery bounds how often the balance gauge asks the supplier: a
// scrape every few seconds must not become an API call every few seconds.
const balanceEvery = time.Minute

type operationalMetricsParams struct {
	fx.In
	Metrics     *metrics.Metrics
	Orders      ports.OrderCounter
	DeadLetters ports.DeadLetters
	Breakers    *breakers
	Suppliers   ports.Suppliers
	Log         *slog.Logger
}

func registerOperationalMetrics(p operationalMetricsParams) {
	m, log := p.Metrics, p.Log.With("component", "metrics")
	m.Gauge("orders", "Orders by status.", []string{"status"}, func(ctx context.Context) ([]metrics.Sample, error) {
		counts, err := p.Orders.CountByStatus(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]metrics.Sample, 0, len(domain.OrderStatuses))
		for _, s := range domain.OrderStatuses {
			out = append(out, metrics.Sample{Labels: []string{s.String()}, Value: float64(counts[s])})
		}
		return out, nil
	}, log)
	m.Gauge("orders_awaiting_release", "Fulfilling orders that wait only for pre-orders' release (every item not sealed awaits its release date): not stuck, left out of KeywardOrdersStuck.", nil,
		func(ctx context.Context) ([]metrics.Sample, error) {
			n, err := p.Orders.CountAwaitingRelease(ctx)
			return []metrics.Sample{{Value: float64(n)}}, err
		}, log)
	m.Gauge("dead_letters", "Dead letters waiting for an operator (not replayed yet).", nil, func(ctx context.Context) ([]metrics.Sample, error) {
		n, err := p.DeadLetters.Count(ctx)
		return []metrics.Sample{{Value: float64(n)}}, err
	}, log)
	m.Gauge("circuit_breaker_open", "1 while a dependency's circuit breaker is open or probing (calls fail at once), else 0; by dependency.", []string{"dependency"},
		func(context.Context) ([]metrics.Sample, error) {
			var out []metrics.Sample
			for _, b := range p.Breakers.all() {
				out = append(out, metrics.Sample{Labels: []string{b.name}, Value: b.openGauge()})
			}
			return out, nil
		}, log)
	if balances := p.Suppliers.Balances(); len(balances) > 0 {
		m.Gauge("supplier_balance", "The supplier account's balance in its currency (Kinguin, CodesWholesale: EUR), read at most once a minute; by supplier.", []string{"supplier"},
			metrics.Cached(balanceEvery, func(ctx context.Context) ([]metrics.Sample, error) {
				var out []metrics.Sample
				var errs []error
				for _, r := range balances {
					b, err := r.Balance.Balance(ctx)
					if err != nil {
						errs = append(errs, fmt.Errorf("%s: %w", r.Supplier.Name(), err))
						continue
					}
					out = append(out, metrics.Sample{Labels: []string{r.Supplier.Name()}, Value: b})
				}
				if len(out) == 0 {
					return nil, errors.Join(errs...)
				}
				// One supplier's failure leaves the others' balances shown.
				for _, err := range errs {
					log.Warn("supplier balance not read", "err", err)
				}
				return out, nil
			}), log)
	}
}

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
	m.Gauge("audit_pending_records", "Audit records committed but not yet chained by the audit sealer.", nil,
		func(ctx context.Context) ([]metrics.Sample, error) {
			n, _, err := postgres.AuditBacklog(ctx, db)
			return []metrics.Sample{{Value: float64(n)}}, err
		}, log)
	m.Gauge("audit_pending_oldest_age_seconds", "Age of the oldest audit record not yet chained (0 when none).", nil,
		func(ctx context.Context) ([]metrics.Sample, error) {
			_, age, err := postgres.AuditBacklog(ctx, db)
			return []metrics.Sample{{Value: age}}, err
		}, log)
	m.Gauge("audit_quarantined_records", "Staged audit records the sealer refused (audit_quarantine): written around the audit log.", nil,
		func(ctx context.Context) ([]metrics.Sample, error) {
			n, err := postgres.AuditQuarantined(ctx, db)
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
