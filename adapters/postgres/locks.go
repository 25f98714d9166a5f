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
type Locks struct{ db *sqlx.DB }

// NewLocks returns advisory locks on db.
func NewLocks(db *sqlx.DB) *Locks { return &Locks{db: db} }

// TryLock takes name without waiting; it holds a connection until release.
func (l *Locks) TryLock(ctx context.Context, name string) (func(), bool, error) {
	conn, err := l.db.Connx(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lock %s: %w", name, err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("keyward/lock/" + name))
	key := int64(h.Sum64())
	var ok bool
	if err := conn.GetContext(ctx, &ok, `SELECT pg_try_advisory_lock($1)`, key); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("lock %s: %w", name, err)
		}
		return nil, false, nil
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)
		conn.Close()
	}, true, nil
}
