package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"sync/atomic"
)

// SQLCounter counts what a process sends to Postgres through the pool Open
// returns: statements (BEGIN, COMMIT and ROLLBACK included), round trips,
// and transactions by kind. It counts with atomics, cheap enough to stay on
// in production; operators read it as Prometheus metrics and the per-order
// budget (perf/budget.json) is checked against it. The outbox listener
// (pq.Listener, messaging.Wakeup) has a connection of its own and is not
// counted: it only receives notifications.
//
// A transaction that wrote nothing and whose reads found no row is an idle
// read (a queue consumer's poll, woken or not, that found no message): its
// statements and round trips are counted in Statements and RoundTrips and
// again in IdleStatements and IdleRoundTrips, since how many there are
// depends on timing (an event is visible to the queue's consumers only
// once every older transaction of the cluster has ended), not on the work
// done.
//
// It counts what is sent: a transaction's writes batched into one
// statement count as one, and a BEGIN, SAVEPOINT or COMMIT the batch
// never had to send is not counted (batch.go). A transaction of writes
// only is one write (autocommit); one that sent nothing at all is no
// transaction: neither a read transaction nor a rollback.
//
// Round trips follow lib/pq's protocol use: a statement with arguments is
// parsed in one round trip and bound and executed in a second, one without
// arguments (and BEGIN, COMMIT, ROLLBACK) is one, a prepared statement's
// execution is one and its preparation another.
type SQLCounter struct {
	statements, roundTrips, prepares atomic.Uint64
	writeTx, readTx, rollbacks       atomic.Uint64
	idleStatements, idleRoundTrips   atomic.Uint64
	trace                            atomic.Pointer[func(TxTrace)]
}

// TxTrace is one transaction as a tracer sees it: its statements in order
// (BEGIN and the COMMIT or ROLLBACK included) and its kind, "write",
// "read", "idle" (wrote nothing, read no row) or "rollback". A statement
// sent outside a transaction is a transaction of its own.
type TxTrace struct {
	Kind       string
	Statements []string
}

// Trace has fn called with each transaction once it ends, from the
// goroutine that ended it; nil stops tracing. It is for finding where a
// budget goes (TestOrderBudget with KEYWARD_TEST_BUDGET_TRACE=1), not for
// production: every statement's text is kept until its transaction ends.
func (c *SQLCounter) Trace(fn func(TxTrace)) {
	if fn == nil {
		c.trace.Store(nil)
		return
	}
	c.trace.Store(&fn)
}

// traced reports the transaction to the tracer, if there is one.
func (c *SQLCounter) traced(kind string, statements []string) {
	if fn := c.trace.Load(); fn != nil {
		(*fn)(TxTrace{Kind: kind, Statements: statements})
	}
}

// SQLCounts is a reading of an SQLCounter.
type SQLCounts struct {
	Statements uint64 // every statement sent, BEGIN and COMMIT/ROLLBACK included
	RoundTrips uint64 // waits for the server's answer
	Prepares   uint64 // statements that prepare a named statement or close one (prepared_writes.go), counted in Statements too
	// WriteTransactions are the commits of transactions that ran a
	// statement other than a read, and statements that wrote on their own
	// (autocommit).
	WriteTransactions uint64
	ReadTransactions  uint64 // commits of transactions that only read
	Rollbacks         uint64
	// IdleStatements and IdleRoundTrips are those of transactions that
	// wrote nothing and read no row (counted in Statements and RoundTrips
	// too).
	IdleStatements uint64
	IdleRoundTrips uint64
}

// Sub returns the counts made since before.
func (c SQLCounts) Sub(before SQLCounts) SQLCounts {
	return SQLCounts{
		Statements: c.Statements - before.Statements, RoundTrips: c.RoundTrips - before.RoundTrips,
		Prepares: c.Prepares - before.Prepares, WriteTransactions: c.WriteTransactions - before.WriteTransactions,
		ReadTransactions: c.ReadTransactions - before.ReadTransactions, Rollbacks: c.Rollbacks - before.Rollbacks,
		IdleStatements: c.IdleStatements - before.IdleStatements, IdleRoundTrips: c.IdleRoundTrips - before.IdleRoundTrips,
	}
}

// Counts reads the counter.
func (c *SQLCounter) Counts() SQLCounts {
	return SQLCounts{
		Statements: c.statements.Load(), RoundTrips: c.roundTrips.Load(), Prepares: c.prepares.Load(),
		WriteTransactions: c.writeTx.Load(), ReadTransactions: c.readTx.Load(), Rollbacks: c.rollbacks.Load(),
		IdleStatements: c.idleStatements.Load(), IdleRoundTrips: c.idleRoundTrips.Load(),
	}
}

// statement counts one statement of rt round trips on conn.
func (c *SQLCounter) statement(cn *countingConn, query string, rt uint64) {
	c.statements.Add(1)
	c.roundTrips.Add(rt)
	cn.txStatements++
	cn.txRoundTrips += rt
	read := isRead(query)
	if c.trace.Load() != nil {
		if cn.inTx {
			cn.txTrace = append(cn.txTrace, query)
		} else {
			c.traced(map[bool]string{true: "read", false: "write"}[read], []string{query})
		}
	}
	if read {
		return
	}
	if cn.inTx {
		cn.wrote = true
	} else {
		c.writeTx.Add(1)
	}
}

// argRoundTrips is what lib/pq needs for a statement with n arguments.
func argRoundTrips(n int) uint64 {
	if n == 0 {
		return 1
	}
	return 2
}

// isRead reports whether query only reads: it starts with SELECT, SHOW,
// VALUES or EXPLAIN, or is a WITH query whose statements all select.
// (pg_notify, advisory locks and SELECT ... FOR UPDATE count as reads: they
// write no row.)
func isRead(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	word := q
	if i := strings.IndexAny(q, " \t\r\n("); i >= 0 {
		word = q[:i]
	}
	switch strings.ToUpper(word) {
	case "SELECT", "SHOW", "VALUES", "EXPLAIN":
		return true
	case "WITH":
		u := strings.ToUpper(q)
		for _, w := range []string{"INSERT ", "DELETE ", "MERGE ", "UPDATE "} {
			if strings.Contains(strings.ReplaceAll(u, "FOR UPDATE", ""), w) {
				return false
			}
		}
		return true
	}
	return false
}

// countingConnector opens lib/pq connections that count on c.
type countingConnector struct {
	driver.Connector
	c *SQLCounter
}

func (k countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := k.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := cn.(pqConn)
	if !ok {
		_ = cn.Close()
		return nil, errors.New("postgres: the driver's connection lacks the context methods the counter relies on")
	}
	return &countingConn{inner: inner, c: k.c}, nil
}

// pqConn is what database/sql uses of a lib/pq connection.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// countingConn counts the statements sent on one connection; database/sql
// uses a connection from one goroutine at a time, so its transaction state
// needs no lock.
type countingConn struct {
	inner pqConn
	c     *SQLCounter
	inTx  bool
	wrote bool
	// Of the transaction in progress: whether a read returned a row, and
	// its statements and round trips so far.
	sawRow                     bool
	txStatements, txRoundTrips uint64
	txTrace                    []string // statements of the transaction, while tracing
	txBatch                             // the transaction's kept writes (batch.go)
	writes                     preparedWrites
}

// endTx counts the end of the transaction in progress (one statement,
// one round trip) and whether it was idle.
func (cn *countingConn) endTx(end string) (wrote bool) {
	c := cn.c
	c.statements.Add(1)
	c.roundTrips.Add(1)
	idle := !cn.wrote && !cn.sawRow
	if idle {
		c.idleStatements.Add(cn.txStatements + 1)
		c.idleRoundTrips.Add(cn.txRoundTrips + 1)
	}
	wrote = cn.wrote
	if cn.txTrace != nil {
		kind := "read"
		switch {
		case end == "ROLLBACK":
			kind = "rollback"
		case wrote:
			kind = "write"
		case idle:
			kind = "idle"
		}
		c.traced(kind, append(cn.txTrace, end))
		cn.txTrace = nil
	}
	cn.inTx, cn.wrote, cn.sawRow, cn.txStatements, cn.txRoundTrips = false, false, false, 0, 0
	return wrote
}

var _ pqConn = (*countingConn)(nil)

func (cn *countingConn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	copyIn := strings.HasPrefix(strings.ToUpper(strings.TrimSpace(query)), "COPY")
	if copyIn && cn.inTx {
		// lib/pq starts a COPY as it prepares it.
		if err := cn.flushAll(ctx); err != nil {
			return nil, err
		}
		if err := cn.ensureBegun(); err != nil {
			return nil, err
		}
	}
	st, err := cn.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cn.countPreparation()
	return &countingStmt{inner: st, cn: cn, query: query, copy: copyIn}, nil
}

func (cn *countingConn) Close() error { return cn.inner.Close() }

func (cn *countingConn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	// BEGIN is sent with the first statement that must be (batch.go).
	cn.inTx, cn.wrote, cn.sawRow, cn.txStatements, cn.txRoundTrips = true, false, false, 0, 0
	cn.resetTx()
	cn.txCtx, cn.txOpts = ctx, opts
	if cn.c.trace.Load() != nil {
		cn.txTrace = []string{}
	}
	return countingTx{cn: cn}, nil
}

func (cn *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if cn.inTx {
		return cn.execInTx(ctx, query, args)
	}
	cn.c.statement(cn, query, argRoundTrips(len(args)))
	return cn.inner.ExecContext(ctx, query, args)
}

func (cn *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if !cn.inTx {
		return cn.autocommitQuery(ctx, query, args)
	}
	if err := cn.beforeRead(ctx, query); err != nil {
		return nil, err
	}
	cn.c.statement(cn, query, argRoundTrips(len(args)))
	rows, err := cn.inner.QueryContext(ctx, query, args)
	cn.failed(err)
	return cn.watch(rows), err
}

// failed records a statement of the transaction that failed outside the
// batch (a read, its rows, a prepared statement): as on the server, the
// transaction cannot go on until a rollback to a savepoint sent before.
func (cn *countingConn) failed(err error) {
	if err != nil && cn.inTx {
		cn.fail(err)
	}
}

// autocommitQuery runs a query outside a transaction: a transaction of its
// own, counted as a transaction is once its rows are closed. One that
// found no row is idle (a poll that found nothing to claim), and only one
// that wrote and returned a row is a write transaction (an UPDATE ...
// RETURNING that matched nothing wrote nothing).
func (cn *countingConn) autocommitQuery(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c, rt, write := cn.c, argRoundTrips(len(args)), !isRead(query)
	c.statements.Add(1)
	c.roundTrips.Add(rt)
	rows, err := cn.inner.QueryContext(ctx, query, args)
	r, ok := rows.(pqRows)
	if err != nil || !ok {
		if write {
			c.writeTx.Add(1)
		}
		c.traced(map[bool]string{true: "write", false: "read"}[write], []string{query})
		return rows, err
	}
	return &autocommitRows{pqRows: r, c: c, rt: rt, write: write, query: query}, nil
}

// autocommitRows count their statement's transaction when closed.
type autocommitRows struct {
	pqRows
	c             *SQLCounter
	rt            uint64
	write, sawRow bool
	counted       bool
	query         string
}

func (r *autocommitRows) Next(dest []driver.Value) error {
	err := r.pqRows.Next(dest)
	if err == nil {
		r.sawRow = true
	}
	return err
}

func (r *autocommitRows) Close() error {
	if !r.counted {
		r.counted = true
		kind := "read"
		switch {
		case !r.sawRow:
			r.c.idleStatements.Add(1)
			r.c.idleRoundTrips.Add(r.rt)
			kind = "idle"
		case r.write:
			r.c.writeTx.Add(1)
			kind = "write"
		}
		r.c.traced(kind, []string{r.query})
	}
	return r.pqRows.Close()
}

// watch has rows tell cn when they yield a row. lib/pq's rows keep the
// optional interfaces database/sql looks for; rows of another kind are
// returned as they are.
func (cn *countingConn) watch(rows driver.Rows) driver.Rows {
	if r, ok := rows.(pqRows); ok && cn.inTx {
		return countingRows{pqRows: r, cn: cn}
	}
	return rows
}

// pqRows is what database/sql uses of lib/pq's rows.
type pqRows interface {
	driver.Rows
	driver.RowsNextResultSet
	driver.RowsColumnTypeScanType
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypePrecisionScale
}

type countingRows struct {
	pqRows
	cn *countingConn
}

func (r countingRows) Next(dest []driver.Value) error {
	err := r.pqRows.Next(dest)
	switch {
	case err == nil:
		r.cn.sawRow = true
	case !errors.Is(err, io.EOF):
		r.cn.failed(err)
	}
	return err
}

func (cn *countingConn) Ping(ctx context.Context) error {
	cn.c.statements.Add(1)
	cn.c.roundTrips.Add(1)
	return cn.inner.Ping(ctx)
}

func (cn *countingConn) ResetSession(ctx context.Context) error { return cn.inner.ResetSession(ctx) }
func (cn *countingConn) IsValid() bool                          { return cn.inner.IsValid() }
func (cn *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return cn.inner.CheckNamedValue(nv)
}

// countingTx ends a transaction: it sends the batch of writes kept, and
// counts a commit as a write or a read transaction by what ran in it.
type countingTx struct {
	cn *countingConn
}

func (t countingTx) Commit() error { return t.cn.commitTx() }

func (t countingTx) Rollback() error { return t.cn.rollbackTx() }

// countingStmt counts each execution of a prepared statement (one round
// trip). lib/pq's COPY FROM STDIN statement passes through: the rows it
// buffers are not counted, the final execution that ends the COPY is.
type countingStmt struct {
	inner driver.Stmt
	cn    *countingConn
	query string
	copy  bool
}

func (s *countingStmt) Close() error  { return s.inner.Close() }
func (s *countingStmt) NumInput() int { return s.inner.NumInput() }

func (s *countingStmt) count(args int) {
	if s.copy && args > 0 {
		return // a row buffered for COPY
	}
	s.cn.c.statement(s.cn, s.query, 1)
}

//nolint:staticcheck // driver.Stmt's own methods, used by database/sql when the context ones are missing
func (s *countingStmt) Exec(args []driver.Value) (driver.Result, error) {
	s.count(len(args))
	return s.inner.Exec(args) //nolint:staticcheck // as above
}

//nolint:staticcheck // as Exec
func (s *countingStmt) Query(args []driver.Value) (driver.Rows, error) {
	s.count(len(args))
	return s.inner.Query(args) //nolint:staticcheck // as above
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.cn.inTx && !s.copy {
		if err := s.cn.flushAll(ctx); err != nil {
			return nil, err
		}
		if err := s.cn.ensureBegun(); err != nil {
			return nil, err
		}
	}
	s.count(len(args))
	if e, ok := s.inner.(driver.StmtExecContext); ok {
		res, err := e.ExecContext(ctx, args)
		s.cn.failed(err)
		return res, err
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Exec(vals) //nolint:staticcheck // the statement has no ExecContext (lib/pq's COPY)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.cn.inTx {
		if err := s.cn.beforeRead(ctx, s.query); err != nil {
			return nil, err
		}
	}
	s.count(len(args))
	if q, ok := s.inner.(driver.StmtQueryContext); ok {
		rows, err := q.QueryContext(ctx, args)
		s.cn.failed(err)
		return s.cn.watch(rows), err
	}
	vals, err := values(args)
	if err != nil {
		return nil, err
	}
	return s.inner.Query(vals) //nolint:staticcheck // the statement has no QueryContext (lib/pq's COPY)
}

func values(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("postgres: named arguments are not supported")
		}
		out[i] = a.Value
	}
	return out, nil
}
