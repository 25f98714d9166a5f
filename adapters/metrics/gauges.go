package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sample is one value of a gauge read on scrape, with its label values in
// the order of the gauge's label names.
type Sample struct {
	Labels []string
	Value  float64
}

// Source reads a gauge's current samples; it is called on every scrape and
// must be cheap (one bounded query).
type Source func(ctx context.Context) ([]Sample, error)

// gauge is a collector that reads its samples from a Source on scrape.
type gauge struct {
	desc    *prometheus.Desc
	src     Source
	timeout time.Duration
	log     *slog.Logger
}

// ScrapeTimeout bounds how long one Source may take; a slow or failing
// source leaves its gauge out of that scrape (and logs why) rather than
// stalling /metrics.
const ScrapeTimeout = 2 * time.Second

// Gauge registers a gauge called keyward_<name> whose samples src reads on
// each scrape. It panics when the name is registered twice (a programmer
// error at start-up).
func (m *Metrics) Gauge(name, help string, labels []string, src Source, log *slog.Logger) {
	m.reg.MustRegister(&gauge{
		desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil),
		src:  src, timeout: ScrapeTimeout, log: log,
	})
}

func (g *gauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *gauge) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	defer cancel()
	samples, err := g.src(ctx)
	if err != nil {
		g.log.Warn("metrics source failed", "metric", g.desc.String(), "err", err)
		ch <- prometheus.NewInvalidMetric(g.desc, err)
		return
	}
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, s.Value, s.Labels...)
	}
}

// Cached returns a Source that calls src at most once per every and
// answers from its last result in between, for a source that costs an
// outside call (a supplier's API). A failed call is not kept: the next
// scrape tries again.
func Cached(every time.Duration, src Source) Source {
	var (
		mu   sync.Mutex
		last []Sample
		at   time.Time
	)
	return func(ctx context.Context) ([]Sample, error) {
		mu.Lock()
		defer mu.Unlock()
		if last != nil && time.Since(at) < every {
			return last, nil
		}
		s, err := src(ctx)
		if err != nil {
			return nil, err
		}
		last, at = s, time.Now()
		return last, nil
	}
}
