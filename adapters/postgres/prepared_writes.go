package postgres

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/lib/pq"
)

// preparedWritesPerConn bounds the batches of writes one connection keeps
// prepared, and so the server's memory for their plans (up to a few
// hundred KB each for a batch of many writes) on every connection of the
// pool. The pipeline's business transactions make a few dozen texts (one
// per kind of change and queue partition), spread over the connections;
// a text past the bound takes the place of the one used least lately.
const preparedWritesPerConn = 24

// sightingsPerConn bounds the texts a connection remembers having sent
// once: a text is prepared the second time it is sent, so that one sent
// once (a migration's, an import of so many rows) never takes a prepared
// statement's place.
const sightingsPerConn = 128

// preparedWrites keeps the batches of writes a connection sends
// (batch.go), prepared by their text: each later batch of the same text
// is bound and executed in one round trip, and the server does not parse
// it again. lib/pq sends a statement with arguments unnamed, parsed anew
// each time, in two round trips; a batch of a business transaction's
// writes is the largest statement it sends.
//
// The statements are the protocol's named ones, which a connection pooler
// in transaction mode (PgBouncer's pool_mode=transaction) does not keep
// per client: keyward needs a session (its LISTEN does too).
type preparedWrites struct {
	byQuery map[string]*list.Element
	used    list.List           // of *preparedWrite, the most lately used first
	seen    map[uint64]struct{} // hashes of the texts sent once (a text may be long: a batch of many rows)
}

// textSeed hashes the texts of preparedWrites.seen.
var textSeed = maphash.MakeSeed()

type preparedWrite struct {
	query string
	stmt  driver.Stmt
}

// preparedWrite is the driver's statement of query's batch: nil the first
// time the connection sends query (it goes unnamed, as before), prepared
// the second (a round trip of its own, counted as a preparation) and
// executed by every batch of that text after.
func (cn *countingConn) preparedWrite(ctx context.Context, query string) (driver.Stmt, error) {
	p := &cn.writes
	if e, ok := p.byQuery[query]; ok {
		p.used.MoveToFront(e)
		return e.Value.(*preparedWrite).stmt, nil
	}
	h := maphash.String(textSeed, query)
	if _, again := p.seen[h]; !again {
		if p.seen == nil || len(p.seen) >= sightingsPerConn {
			p.seen = map[uint64]struct{}{}
		}
		p.seen[h] = struct{}{}
		return nil, nil
	}
	delete(p.seen, h)
	if p.byQuery == nil {
		p.byQuery = map[string]*list.Element{}
	}
	if p.used.Len() >= preparedWritesPerConn {
		last := p.used.Back()
		old := last.Value.(*preparedWrite)
		p.used.Remove(last)
		delete(p.byQuery, old.query)
		cn.countPreparation()
		if err := old.stmt.Close(); err != nil {
			return nil, fmt.Errorf("close a prepared batch: %w", err)
		}
	}
	st, err := cn.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cn.countPreparation()
	p.byQuery[query] = p.used.PushFront(&preparedWrite{query: query, stmt: st})
	return st, nil
}

// execWrite runs query with args, through its prepared statement st when
// there is one (preparedWrite).
func (cn *countingConn) execWrite(ctx context.Context, st driver.Stmt, query string, args []driver.NamedValue) (driver.Result, error) {
	if st != nil {
		return st.(driver.StmtExecContext).ExecContext(ctx, args)
	}
	return cn.inner.ExecContext(ctx, query, args)
}

// queryWrite is execWrite for a batch that returns its rows' counts.
func (cn *countingConn) queryWrite(ctx context.Context, st driver.Stmt, query string, args []driver.NamedValue) (driver.Rows, error) {
	if st != nil {
		return st.(driver.StmtQueryContext).QueryContext(ctx, args)
	}
	return cn.inner.QueryContext(ctx, query, args)
}

// countPreparation counts a statement that prepares or closes one: a
// statement and a round trip, counted apart (SQLCounts.Prepares) from the
// work of the transactions.
func (cn *countingConn) countPreparation() {
	cn.c.prepares.Add(1)
	cn.c.statements.Add(1)
	cn.c.roundTrips.Add(1)
}

// forgetPreparedWrite drops query's statement when err may say the server
// can no longer run it as prepared (SQLSTATE classes 42, a table it
// writes changed under the parameter types its preparation fixed; 0A,
// its plan's result changed; 26, the server lost it): the next batch of
// the text goes unnamed and prepares it again. Any other failure (a
// conflict, a row changed since it was read, a lost connection) leaves it
// prepared.
func (cn *countingConn) forgetPreparedWrite(query string, err error) {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return
	}
	switch pqErr.Code.Class() {
	case "42", "0A", "26":
	default:
		return
	}
	p := &cn.writes
	if e, ok := p.byQuery[query]; ok {
		p.used.Remove(e)
		delete(p.byQuery, query)
		cn.countPreparation()
		_ = e.Value.(*preparedWrite).stmt.Close()
	}
}
