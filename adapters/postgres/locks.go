package postgres

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/jmoiron/sqlx"
)

// Locks implements the Locks port with session advisory locks, so one
// process of all that share the database runs a job at a time. A lock dies
// with its connection: a crashed holder frees it.
//
// Each lock held keeps a connection of db's pool, and its holder needs
// others for its work: at most half the pool (when it is bounded) is
// given to locks at once, so that holders always find a connection to
// finish and release with. A caller beyond that waits for a lock to be
// released (or its context to end) before it tries.
type Locks struct {
	db    *sqlx.DB
	slots chan struct{} // nil: the pool is unbounded
}

// NewLocks returns advisory locks on db, sized by its pool's bound as set
// now (SetMaxOpenConns).
func NewLocks(db *sqlx.DB) *Locks {
	l := &Locks{db: db}
	if n := db.Stats().MaxOpenConnections; n > 0 {
		l.slots = make(chan struct{}, max(1, n/2))
	}
	return l
}

// TryLock takes name without waiting for its holder; it holds a
// connection until release.
func (l *Locks) TryLock(ctx context.Context, name string) (func(), bool, error) {
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("lock %s: %w", name, ctx.Err())
		}
	}
	free := func() {
		if l.slots != nil {
			<-l.slots
		}
	}
	conn, err := l.db.Connx(ctx)
	if err != nil {
		free()
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("keyward/lock/" + name))
	key := int64(h.Sum64())
	var ok bool
	if err := conn.GetContext(ctx, &ok, `SELECT pg_try_advisory_lock($1)`, key); err != nil || !ok {
		conn.Close()
		free()
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", name, err)
		}
		return nil, false, nil
	}
	return func() {
		var released bool // read back, as the lock was taken: it writes nothing
		_ = conn.GetContext(context.WithoutCancel(ctx), &released, `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
		free()
	}, true, nil
}
