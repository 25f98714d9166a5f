package postgres

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// preparedWritesPerConn bounds the batches of writes one connection keeps
// prepared. A business transaction's batch has one text per kind of
// change (and queue partition), a few dozen in all; the bound keeps the
// server's memory for them small on every connection of the pool, and a
// text past it (a catalog sync's many-row upsert, say) takes the place of
// the one used least lately.
const preparedWritesPerConn = 48

// preparedWrites keeps the batches of writes a connection sent (batch.go),
// prepared by their text: each later batch of the same text is bound and
// executed in one round trip, and the server neither parses nor, once its
// plan is cached, plans it again. lib/pq sends a statement with arguments
// unnamed, parsed and planned anew each time; a batch of a business
// transaction's writes is the dearest statement it sends.
type preparedWrites struct {
	byQuery map[string]*list.Element
	used    list.List // of *preparedWrite, the most lately used first
}

type preparedWrite struct {
	query string
	stmt  driver.Stmt
}

// preparedWrite is the driver's statement of query's batch, prepared on
// the connection the first time (a round trip of its own, counted as a
// preparation) and executed by every batch of that text after.
func (cn *countingConn) preparedWrite(ctx context.Context, query string) (driver.Stmt, error) {
	p := &cn.writes
	if e, ok := p.byQuery[query]; ok {
		p.used.MoveToFront(e)
		return e.Value.(*preparedWrite).stmt, nil
	}
	if p.byQuery == nil {
		p.byQuery = map[string]*list.Element{}
	}
	if p.used.Len() >= preparedWritesPerConn {
		last := p.used.Back()
		old := last.Value.(*preparedWrite)
		p.used.Remove(last)
		delete(p.byQuery, old.query)
		cn.c.statements.Add(1)
		cn.c.roundTrips.Add(1)
		if err := old.stmt.Close(); err != nil {
			return nil, fmt.Errorf("close a prepared batch: %w", err)
		}
	}
	st, err := cn.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cn.c.prepares.Add(1)
	cn.c.statements.Add(1)
	cn.c.roundTrips.Add(1)
	p.byQuery[query] = p.used.PushFront(&preparedWrite{query: query, stmt: st})
	return st, nil
}

// forgetPreparedWrite drops query's statement when err says the server
// can no longer run it (a table it writes changed under its cached plan,
// or the server lost it): the next batch of the text prepares it again.
// Any other failure (a conflict, a row changed since it was read) leaves
// it prepared.
func (cn *countingConn) forgetPreparedWrite(query string, err error) {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || (pqErr.Code != "0A000" && pqErr.Code != "26000") {
		return
	}
	p := &cn.writes
	if e, ok := p.byQuery[query]; ok {
		p.used.Remove(e)
		delete(p.byQuery, query)
		_ = e.Value.(*preparedWrite).stmt.Close()
	}
}
