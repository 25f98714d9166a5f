package application

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward/ports"
)

// ComponentHealth is one component's readiness.
type ComponentHealth struct {
	Name    string
	Healthy bool
	Error   string
	Latency time.Duration
}

// CheckHealth runs every component check concurrently with a timeout.
type CheckHealth struct {
	checks  []ports.HealthCheck
	timeout time.Duration
}

// NewCheckHealth wires CheckHealth; it panics when a dependency is nil.
func NewCheckHealth(checks []ports.HealthCheck, timeout time.Duration) CheckHealth {
	return CheckHealth{checks: checks, timeout: timeout}
}

// Handle reports each component, in the order the checks were given, and
// whether all are healthy.
func (h CheckHealth) Handle(ctx context.Context) ([]ComponentHealth, bool) {
	timeout := h.timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]ComponentHealth, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := c.Check(ctx)
			out[i] = ComponentHealth{Name: c.Name, Healthy: err == nil, Latency: time.Since(start)}
			if err != nil {
				out[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	ok := true
	for _, c := range out {
		ok = ok && c.Healthy
	}
	return out, ok
}
