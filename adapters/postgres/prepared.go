package postgres

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// preparedStatements holds the hot queries prepared once on a pool:
// database/sql prepares such a statement again on each connection it
// first runs on, once, and keeps it there, so that each later run is one
// round trip (bind and execute) instead of lib/pq's two (parse, then bind
// and execute) for a statement with arguments.
type preparedStatements struct {
	db        *sqlx.DB
	mu        sync.Mutex
	stmts     map[string]*sqlx.Stmt
	preparing map[string]bool
}

func newPreparedStatements(db *sqlx.DB) *preparedStatements {
	return &preparedStatements{db: db, stmts: map[string]*sqlx.Stmt{}, preparing: map[string]bool{}}
}

// on returns query prepared for q (the pool, or the unit of work's
// transaction, whose copy database/sql closes with it while the
// connection's preparation stays), or nil: then the caller runs query
// unprepared. A transaction never waits for the pool's preparation, which
// needs a connection of its own: the pool may have none left while
// transactions hold them all. It is prepared in the background for the
// next call.
func (p *preparedStatements) on(q sqlx.QueryerContext, query string) *sqlx.Stmt {
	p.mu.Lock()
	st := p.stmts[query]
	start := st == nil && !p.preparing[query]
	if start {
		p.preparing[query] = true
	}
	p.mu.Unlock()
	if start {
		go p.prepare(query)
	}
	if st == nil {
		return nil
	}
	if tx, ok := q.(*sqlx.Tx); ok {
		return tx.Stmtx(st)
	}
	if q != sqlx.QueryerContext(p.db) {
		return nil // another runner (a wrapped transaction): never the pool's statement outside it
	}
	return st
}

func (p *preparedStatements) prepare(query string) {
	st, err := p.db.PreparexContext(context.Background(), query)
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.preparing, query)
	if err == nil {
		p.stmts[query] = st
	}
}

// get runs query with args into dest, prepared when it can be.
func (p *preparedStatements) get(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	if st := p.on(q, query); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return sqlx.GetContext(ctx, q, dest, query, args...)
}

// sel runs query with args into the slice dest, prepared when it can be.
func (p *preparedStatements) sel(ctx context.Context, q sqlx.QueryerContext, dest any, query string, args ...any) error {
	if st := p.on(q, query); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return sqlx.SelectContext(ctx, q, dest, query, args...)
}
