package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ListSyncRuns pages through the recorded catalog sync runs, newest first.
type ListSyncRuns struct{ runs ports.SyncRunRepository }

// NewListSyncRuns wires ListSyncRuns; it panics when a dependency is nil.
func NewListSyncRuns(runs ports.SyncRunRepository) ListSyncRuns {
	require("ListSyncRuns", "syncRuns", runs)
	return ListSyncRuns{runs: runs}
}

// SyncRunPage is one page of runs and the cursor of the next ("" at the end).
type SyncRunPage struct {
	Items      []*domain.SyncRun
	NextCursor string
}

// Handle returns up to limit runs after the cursor (a run id); the
// repository's error otherwise.
func (h ListSyncRuns) Handle(ctx context.Context, after string, limit int) (SyncRunPage, error) {
	runs, err := h.runs.List(ctx, after, limit+1)
	if err != nil {
		return SyncRunPage{}, err
	}
	page := SyncRunPage{Items: runs}
	if len(runs) > limit {
		page.Items = runs[:limit]
		page.NextCursor = runs[limit-1].ID()
	}
	return page, nil
}

// HandleOf is Handle among the runs of one supplier.
func (h ListSyncRuns) HandleOf(ctx context.Context, supplier, after string, limit int) (SyncRunPage, error) {
	runs, err := h.runs.ListOf(ctx, supplier, after, limit+1)
	if err != nil {
		return SyncRunPage{}, err
	}
	page := SyncRunPage{Items: runs}
	if len(runs) > limit {
		page.Items = runs[:limit]
		page.NextCursor = runs[limit-1].ID()
	}
	return page, nil
}
