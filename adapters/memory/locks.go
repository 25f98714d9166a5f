package memory

import (
	"context"
	"sync"
)

// Locks is a Locks port for one process.
type Locks struct {
	mu   sync.Mutex
	held map[string]bool
}

// NewLocks returns a lock table.
func NewLocks() *Locks { return &Locks{held: map[string]bool{}} }

// TryLock takes name unless it is held.
func (l *Locks) TryLock(_ context.Context, name string) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[name] {
		return nil, false, nil
	}
	l.held[name] = true
	return func() {
		l.mu.Lock()
		delete(l.held, name)
		l.mu.Unlock()
	}, true, nil
}
