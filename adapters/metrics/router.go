package metrics

// Retried counts one retry of a handler (by its route name); the message
// router calls it on every retry.
func (m *Metrics) Retried(handler string) { m.retries.WithLabelValues(handler).Inc() }
