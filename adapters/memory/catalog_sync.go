package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SyncRuns is a ports.SyncRunRepository in memory.
type SyncRuns struct {
	mu   sync.Mutex
	runs []domain.SyncRunSnapshot // in order of first save
}

var _ ports.SyncRunRepository = (*SyncRuns)(nil)

// NewSyncRuns returns an empty record of runs.
func NewSyncRuns() *SyncRuns { return &SyncRuns{} }

// Save inserts or replaces a run by id.
func (s *SyncRuns) Save(_ context.Context, r *domain.SyncRun) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := r.Snapshot()
	for i := range s.runs {
		if s.runs[i].ID == snap.ID {
			s.runs[i] = snap
			return nil
		}
	}
	s.runs = append(s.runs, snap)
	return nil
}

// newestFirst orders runs by start, then id, both descending.
func (s *SyncRuns) newestFirst() []domain.SyncRunSnapshot {
	out := slices.Clone(s.runs)
	slices.SortStableFunc(out, func(a, b domain.SyncRunSnapshot) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		switch {
		case a.ID > b.ID:
			return -1
		case a.ID < b.ID:
			return 1
		}
		return 0
	})
	return out
}

// List returns up to limit runs, newest first, after the run after.
func (s *SyncRuns) List(ctx context.Context, after string, limit int) ([]*domain.SyncRun, error) {
	return s.list(func(domain.SyncRunSnapshot) bool { return true }, after, limit)
}

// ListOf is List among the runs of one supplier.
func (s *SyncRuns) ListOf(_ context.Context, supplier, after string, limit int) ([]*domain.SyncRun, error) {
	return s.list(func(r domain.SyncRunSnapshot) bool { return r.Supplier == supplier }, after, limit)
}

func (s *SyncRuns) list(keep func(domain.SyncRunSnapshot) bool, after string, limit int) ([]*domain.SyncRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := slices.DeleteFunc(s.newestFirst(), func(r domain.SyncRunSnapshot) bool { return !keep(r) })
	if after != "" {
		i := slices.IndexFunc(all, func(r domain.SyncRunSnapshot) bool { return r.ID == after })
		if i < 0 {
			return nil, nil
		}
		all = all[i+1:]
	}
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	out := make([]*domain.SyncRun, 0, len(all))
	for _, snap := range all {
		r, err := domain.RehydrateSyncRun(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// LastSucceeded returns the latest succeeded run of mode, or
// domain.ErrNotFound.
func (s *SyncRuns) LastSucceeded(_ context.Context, mode domain.SyncMode) (*domain.SyncRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, snap := range s.newestFirst() {
		if snap.Mode == mode && snap.Status == domain.SyncSucceeded {
			return domain.RehydrateSyncRun(snap)
		}
	}
	return nil, fmt.Errorf("%w: no succeeded %s sync", domain.ErrNotFound, mode)
}

// LastSucceededOf is LastSucceeded among one supplier's runs (and, with
// unnamed, those that name none).
func (s *SyncRuns) LastSucceededOf(_ context.Context, supplier string, unnamed bool, mode domain.SyncMode) (*domain.SyncRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, snap := range s.newestFirst() {
		if snap.Mode == mode && snap.Status == domain.SyncSucceeded && (snap.Supplier == supplier || unnamed && snap.Supplier == "") {
			return domain.RehydrateSyncRun(snap)
		}
	}
	return nil, fmt.Errorf("%w: no succeeded %s sync of %s", domain.ErrNotFound, mode, supplier)
}

// PricingRules is a ports.PricingRules in memory.
type PricingRules struct {
	mu    sync.Mutex
	rules map[[2]string]domain.MarginRule
}

var _ ports.PricingRules = (*PricingRules)(nil)

// NewPricingRules returns no rules.
func NewPricingRules() *PricingRules {
	return &PricingRules{rules: map[[2]string]domain.MarginRule{}}
}

// Set inserts or replaces the rule of its scope and key.
func (p *PricingRules) Set(_ context.Context, r domain.MarginRule) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules[[2]string{r.Scope().String(), r.Key()}] = r
	return nil
}

// Delete removes a rule.
func (p *PricingRules) Delete(_ context.Context, scope domain.MarginScope, key string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.rules, [2]string{scope.String(), key})
	return nil
}

// List returns every rule by scope then key.
func (p *PricingRules) List(context.Context) ([]domain.MarginRule, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]domain.MarginRule, 0, len(p.rules))
	for _, r := range p.rules {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b domain.MarginRule) int {
		if a.Scope() != b.Scope() {
			if a.Scope().String() < b.Scope().String() {
				return -1
			}
			return 1
		}
		if a.Key() < b.Key() {
			return -1
		}
		if a.Key() > b.Key() {
			return 1
		}
		return 0
	})
	return out, nil
}
