package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SupplierStatus is one supplier as an operator watches it.
type SupplierStatus struct {
	Name    string
	Healthy bool
	// HealthError says why it is not healthy ("" when it is).
	HealthError string
	// Balance is the account's balance; HasBalance is false when the
	// supplier does not tell it or it could not be read now.
	Balance    domain.Money
	HasBalance bool
	// Breaker is its circuit breaker's state ("closed", "open",
	// "half-open"), "" without one.
	Breaker string
	// LastSyncAt is when its latest catalog sync run ended (began, while it
	// runs); zero when it never ran.
	LastSyncAt  time.Time
	ItemsBought int
}

// ListSuppliers reports each configured supplier: health, balance,
// breaker, last catalog sync and items bought there.
type ListSuppliers struct {
	suppliers ports.Suppliers
	runs      ports.SyncRunRepository
	monitor   ports.SupplierMonitor    // nil: no breaker or balance known
	bought    ports.ItemsBoughtCounter // nil: none counted
	timeout   time.Duration
}

// NewListSuppliers wires ListSuppliers; monitor and bought may be nil.
func NewListSuppliers(suppliers ports.Suppliers, runs ports.SyncRunRepository, monitor ports.SupplierMonitor, bought ports.ItemsBoughtCounter,
	timeout time.Duration) ListSuppliers {
	require("ListSuppliers", "syncRuns", runs)
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return ListSuppliers{suppliers: suppliers, runs: runs, monitor: monitor, bought: bought, timeout: timeout}
}

// Handle returns the suppliers in the operator's order. A supplier that
// does not answer within the timeout is unhealthy, its balance unknown;
// storage errors are returned.
func (h ListSuppliers) Handle(ctx context.Context) ([]SupplierStatus, error) {
	counts := map[string]int{}
	if h.bought != nil {
		var err error
		if counts, err = h.bought.CountItemsBought(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]SupplierStatus, 0, len(h.suppliers))
	for _, r := range h.suppliers {
		s := SupplierStatus{Name: r.Supplier.Name(), ItemsBought: counts[r.Supplier.Name()]}
		cctx, cancel := context.WithTimeout(ctx, h.timeout)
		if err := r.Supplier.Health(cctx); err != nil {
			s.HealthError = err.Error()
		} else {
			s.Healthy = true
		}
		if h.monitor != nil {
			s.Breaker = h.monitor.Breaker(s.Name)
			if b, ok, err := h.monitor.Balance(cctx, s.Name); err == nil && ok {
				s.Balance, s.HasBalance = b, true
			}
		}
		cancel()
		runs, err := h.runs.ListOf(ctx, s.Name, "", 1)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return nil, fmt.Errorf("sync runs of %s: %w", s.Name, err)
		}
		if len(runs) > 0 {
			snap := runs[0].Snapshot()
			s.LastSyncAt = snap.FinishedAt
			if s.LastSyncAt.IsZero() {
				s.LastSyncAt = snap.StartedAt
			}
		}
		out = append(out, s)
	}
	return out, nil
}
