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
	Checks  []ports.HealthCheck
	Timeout time.Duration
}

// Handle reports each component, in the order the checks were given, and
// whether all are healthy.
func (h CheckHealth) Handle(ctx context.Context) ([]ComponentHealth, bool) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make([]ComponentHealth, len(h.Checks))
	var wg sync.WaitGroup
	for i, c := range h.Checks {
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
