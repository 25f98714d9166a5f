package memory

import (
	"context"
	"sync"
	"time"
)

// SupplierEventMarks is a ports.SupplierEventMarks in memory.
type SupplierEventMarks struct {
	mu    sync.Mutex
	marks map[string]time.Time
}

// NewSupplierEventMarks returns empty marks.
func NewSupplierEventMarks() *SupplierEventMarks {
	return &SupplierEventMarks{marks: map[string]time.Time{}}
}

// Advance records at for entity unless a later time is recorded and
// reports false for a notice older than the recorded time.
func (m *SupplierEventMarks) Advance(_ context.Context, entity string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.marks[entity]; ok && cur.After(at) {
		return false, nil
	}
	m.marks[entity] = at
	return true, nil
}
