package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Totals are the counters the per-order budget is measured in, read
// without running the gauges (which query storage on every scrape).
type Totals struct {
	MessagesPublished float64 // keyward_messages_published_total, every topic
	MessagesHandled   float64 // keyward_messages_handled_total, every handler
	VaultCalls        float64 // calls to the key vault, every operation
}

// Totals reads the counters of Totals.
func (m *Metrics) Totals() Totals {
	return Totals{
		MessagesPublished: sum(m.published, nil),
		MessagesHandled:   sum(m.delivered, nil),
		VaultCalls:        sum(m.calls, map[string]string{"dependency": DepVault}),
	}
}

// sum adds up the counters (or a histogram's observation counts) c
// collects whose labels include labels.
func sum(c prometheus.Collector, labels map[string]string) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var total float64
	for metric := range ch {
		var out dto.Metric
		if err := metric.Write(&out); err != nil || !hasLabels(&out, labels) {
			continue
		}
		switch {
		case out.Counter != nil:
			total += out.Counter.GetValue()
		case out.Histogram != nil:
			total += float64(out.Histogram.GetSampleCount())
		}
	}
	return total
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}
