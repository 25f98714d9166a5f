package memory

import "sync"

// rowLocks keeps the rows a unit of work changed from other writers until
// the unit ends, as row locks do in Postgres, so that undoing a failed
// unit can never undo someone else's change. Its methods run with mu, the
// store's mutex, held.
type rowLocks struct {
	mu    *sync.Mutex
	owner map[string]*unitOfWork
	free  *sync.Cond
	// waiters counts the callers blocked in wait, for tests to know one
	// is.
	waiters *int
}

func newRowLocks(mu *sync.Mutex) rowLocks {
	return rowLocks{mu: mu, owner: map[string]*unitOfWork{}, free: sync.NewCond(mu), waiters: new(int)}
}

// wait blocks until no unit of work but u holds the row id.
func (l rowLocks) wait(id string, u *unitOfWork) {
	for l.owner[id] != nil && l.owner[id] != u {
		*l.waiters++
		l.free.Wait()
		*l.waiters--
	}
}

// hold makes u (when not nil) hold the row id until it ends, and has undo
// run, under mu, if it fails.
func (l rowLocks) hold(id string, u *unitOfWork, undo func()) {
	if u == nil {
		return
	}
	if l.owner[id] == nil {
		l.owner[id] = u
		u.onEnd(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			delete(l.owner, id)
			l.free.Broadcast()
		})
	}
	u.onRollback(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		undo()
	})
}
