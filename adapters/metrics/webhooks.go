package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WebhookMetrics count the outbound webhooks: attempts by endpoint, event
// type and outcome, their latency, and endpoints disabled for failing.
type WebhookMetrics struct {
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	disabled *prometheus.CounterVec
}

// Webhooks returns the webhook instruments, registered on first use.
func (m *Metrics) Webhooks() *WebhookMetrics {
	m.webhooksOnce.Do(func() { m.webhooks = m.newWebhookMetrics() })
	return m.webhooks
}

func (m *Metrics) newWebhookMetrics() *WebhookMetrics {
	w := &WebhookMetrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_deliveries_total",
			Help: "Webhook delivery attempts, by endpoint, event type and outcome (delivered, retry, failed).",
		}, []string{"endpoint", "type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "webhook_attempt_duration_seconds",
			Help:    "Duration of webhook delivery attempts, by endpoint.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"endpoint"}),
		disabled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "webhook_endpoints_disabled_total",
			Help: "Webhook endpoints keyward disabled after failing every delivery for KEYWARD_WEBHOOK_DISABLE_AFTER, by endpoint.",
		}, []string{"endpoint"}),
	}
	m.reg.MustRegister(w.attempts, w.latency, w.disabled)
	return w
}

// Attempted counts one attempt and its latency.
func (w *WebhookMetrics) Attempted(endpointID, eventType, outcome string, d time.Duration) {
	w.attempts.WithLabelValues(endpointID, eventType, outcome).Inc()
	w.latency.WithLabelValues(endpointID).Observe(d.Seconds())
}

// Disabled counts an endpoint disabled for failing.
func (w *WebhookMetrics) Disabled(endpointID string) { w.disabled.WithLabelValues(endpointID).Inc() }
