package memory

import (
	"context"
	"slices"
	"sync"
)

// Transactor is a ports.Transactor for the memory stores. A unit of work
// rolls back what the stores that take part in it changed (the delivery
// links: a failed reveal gives its reveal back) and, like a row lock in
// Postgres, keeps every link it changed from other writers until it ends,
// so that undoing it can never undo someone else's change. Stores that do
// not take part keep what fn wrote.
type Transactor struct{}

// Atomically runs fn; when fn fails, the changes made through it are
// undone before its error is returned. A unit of work inside another
// joins it.
func (Transactor) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if unitFrom(ctx) != nil {
		return fn(ctx)
	}
	u := &unitOfWork{}
	committed := false
	defer func() { // also when fn panics
		if !committed {
			u.rollback()
		}
		u.end()
	}()
	err := fn(context.WithValue(ctx, unitKey{}, u))
	committed = err == nil
	return err
}

// unitKey keys the unit of work in a context.
type unitKey struct{}

func unitFrom(ctx context.Context) *unitOfWork {
	u, _ := ctx.Value(unitKey{}).(*unitOfWork)
	return u
}

// unitOfWork is an undo log and the locks to release when it ends.
type unitOfWork struct {
	mu    sync.Mutex
	undo  []func()
	after []func()
}

// onRollback has undo run if the unit of work fails, latest first.
func (u *unitOfWork) onRollback(undo func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.undo = append(u.undo, undo)
}

// onEnd has release run when the unit of work ends, after any rollback.
func (u *unitOfWork) onEnd(release func()) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.after = append(u.after, release)
}

func (u *unitOfWork) rollback() {
	u.mu.Lock()
	undo := slices.Clone(u.undo)
	u.mu.Unlock()
	for _, f := range slices.Backward(undo) {
		f()
	}
}

func (u *unitOfWork) end() {
	u.mu.Lock()
	after := slices.Clone(u.after)
	u.mu.Unlock()
	for _, f := range after {
		f()
	}
}
