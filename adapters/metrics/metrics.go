// Package metrics exports keyward's Prometheus metrics from a registry of
// its own (not the process-wide default, so tests and several apps in one
// process never collide): per-dependency call latency and errors through
// port decorators, paid→delivered latency, reveals, retries, rate-limit
// rejections, and gauges read from storage when scraped.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "keyward"

// Metrics holds keyward's instruments and the registry they live in.
type Metrics struct {
	reg         *prometheus.Registry
	calls       *prometheus.HistogramVec
	callErrors  *prometheus.CounterVec
	delivery    prometheus.Histogram
	reveals     prometheus.Counter
	retries     *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	limiterErrs *prometheus.CounterVec
	published   *prometheus.CounterVec
	delivered   *prometheus.CounterVec

	webhooksOnce sync.Once
	webhooks     *WebhookMetrics // registered on first use (Webhooks)
}

// New returns metrics registered on a new registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "dependency_call_duration_seconds",
			Help:    "Duration of calls to external dependencies, by dependency and operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"dependency", "operation"}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "dependency_call_errors_total",
			Help: "Calls to external dependencies that returned an error, by dependency and operation.",
		}, []string{"dependency", "operation"}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "order_paid_to_delivered_seconds",
			Help:    "Time from an order's payment to its delivery, observed when it is delivered.",
			Buckets: []float64{.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}),
		reveals: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "keys_revealed_total",
			Help: "Keys revealed to customers.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "message_retries_total",
			Help: "Handler attempts made again after a failed one, by handler.",
		}, []string{"handler"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limit_rejections_total",
			Help: "Requests answered 429 by a rate limit, by limiter.",
		}, []string{"limiter"}),
		limiterErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limiter_errors_total",
			Help: "Requests let through because a rate limiter's store (Redis) did not answer, by limiter.",
		}, []string{"limiter"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_published_total",
			Help: "Messages put on the queue (the outbox, or a broker or the in-process queue directly), by topic (an event name; its partitions summed).",
		}, []string{"topic"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_handled_total",
			Help: "Messages handed to a handler (queue hops; each consumer group counts its own), by handler.",
		}, []string{"handler"}),
	}
	m.reg.MustRegister(m.calls, m.callErrors, m.delivery, m.reveals, m.retries, m.rateLimited, m.limiterErrs, m.published, m.delivered,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is where further collectors (database pool, storage gauges) go.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. A
// collector that fails (a gauge whose source timed out, say: it has
// logged why) is left out of that scrape; the rest is served with 200, so
// one slow query never blanks every other metric of the process.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// ObserveCall records one call to dependency's operation that started at
// start and returned err.
func (m *Metrics) ObserveCall(dependency, operation string, start time.Time, err error) {
	m.calls.WithLabelValues(dependency, operation).Observe(time.Since(start).Seconds())
	if err != nil {
		m.callErrors.WithLabelValues(dependency, operation).Inc()
	}
}

// RateLimited counts one request rejected by limiter.
func (m *Metrics) RateLimited(limiter string) { m.rateLimited.WithLabelValues(limiter).Inc() }

// RateLimiterFailed counts one request limiter let through unchecked
// because its store did not answer.
func (m *Metrics) RateLimiterFailed(limiter string) { m.limiterErrs.WithLabelValues(limiter).Inc() }

// ObserveDelivery records how long a delivered order took since payment.
func (m *Metrics) ObserveDelivery(d time.Duration) { m.delivery.Observe(d.Seconds()) }

// Revealed counts n revealed keys.
func (m *Metrics) Revealed(n int) { m.reveals.Add(float64(n)) }

// Published counts n messages put on topic.
func (m *Metrics) Published(topic string, n int) { m.published.WithLabelValues(topic).Add(float64(n)) }

// Delivered counts one message handed to handler.
func (m *Metrics) Delivered(handler string) { m.delivered.WithLabelValues(handler).Inc() }
