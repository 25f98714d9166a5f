package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

// A transaction's writes are batched at the driver: an INSERT, UPDATE or
// DELETE (without RETURNING) run in a transaction is not sent at once but
// kept, and the kept writes go to the server as one statement, each a
// data-modifying WITH query of it, when something needs them written:
//
//   - a read that names a table a kept write changes, takes an advisory
//     lock, or writes itself;
//   - a statement the batch does not take (SET, INSERT ... RETURNING, a
//     write marked sqlmark.SendNow, a prepared statement's execution);
//   - the barrier sqlmark.Flush (the end of a message's handling in the
//     queue's consume transaction, so that its writes' errors are its),
//     and sqlmark.Sync (which also sends the savepoints kept);
//   - a write that depends on a kept one (it names a table a kept write
//     changes, unless both are plain INSERT ... VALUES into the table);
//   - RowsAffected of a kept write (unless marked with ExpectRows);
//   - the commit.
//
// BEGIN itself waits for the first statement that must be sent inside the
// transaction: a transaction whose statements were all batched commits as
// the one statement, without BEGIN and COMMIT. A SAVEPOINT waits likewise
// for the first statement after it that must be undone by a rollback to
// it (anything but a plain read); ROLLBACK TO one not sent drops the
// writes kept since it, and sends nothing (unless a statement failed on
// the server since it: the transaction is then aborted, and the rollback
// fails with it). A read-only transaction
// batches nothing.
//
// The statements of one batch see the database as it was before the
// batch (they run with one snapshot), which is why a write that names a
// table changed by a kept write is never batched with it, and why reads
// that name such a table send the batch first. (A read reaching a written
// table through a view or a function would not be seen to: keyward has
// none.) A failed write fails its batch: the error comes back from the
// statement that sent the batch (a read, RowsAffected, the barrier or the
// commit), and every statement after it fails with it until a ROLLBACK
// TO a savepoint sent before it, as on the server.

// SQLSTATEs keyward_expect_rows raises: a row changed since it was read
// (the unit of work runs again, staleSeen), and a final conflict.
const (
	errExpectedRowsCode      = pqerror.Code("KW409")
	errExpectedRowsFinalCode = pqerror.Code("KW410")
)

// maxBatchParams keeps a batch within the protocol's 65535 parameters.
const maxBatchParams = 60000

// txBatch is what a connection keeps of the transaction in progress for
// the batch: its context and options, the driver's transaction once BEGIN
// is sent, the writes and savepoints kept, and what was sent and failed
// (the transaction cannot commit) with how many of the savepoints sent,
// in order, came before it.
type txBatch struct {
	txCtx          context.Context
	txOpts         driver.TxOptions
	innerTx        driver.Tx
	batch          []batched
	txErr          error
	txErrAfter     int
	sentSavepoints []string
}

// batched is one write kept for the batch, or a savepoint not yet sent
// (info nil).
type batched struct {
	info      *stmtInfo
	args      []driver.NamedValue
	result    *batchResult
	savepoint string
}

// batchResult is the driver.Result of a batched write: its rows are known
// once the batch is sent.
type batchResult struct {
	cn   *countingConn
	rows int64
	sent bool
	err  error
}

var _ driver.Result = (*batchResult)(nil)

func (r *batchResult) LastInsertId() (int64, error) {
	return 0, errors.New("postgres: LastInsertId is not supported")
}

func (r *batchResult) RowsAffected() (int64, error) {
	if !r.sent {
		if err := r.cn.flushBatch(r.cn.ctx()); err != nil {
			return 0, err
		}
	}
	return r.rows, r.err
}

// expectedRowsResult answers RowsAffected of a write marked with
// sqlmark.ExpectRows: the batch fails unless the write changes that many
// rows.
type expectedRowsResult int64

func (r expectedRowsResult) LastInsertId() (int64, error) {
	return 0, errors.New("postgres: LastInsertId is not supported")
}
func (r expectedRowsResult) RowsAffected() (int64, error) { return int64(r), nil }

// ctx is the context of the transaction in progress (BeginTx's), for what
// is sent on its behalf.
func (cn *countingConn) ctx() context.Context {
	if cn.txCtx != nil {
		return cn.txCtx
	}
	return context.Background()
}

// ensureBegun sends the transaction's BEGIN if it has not been sent, under
// the transaction's own context (lib/pq watches it for the whole
// transaction).
func (cn *countingConn) ensureBegun() error {
	if !cn.inTx || cn.innerTx != nil {
		return nil
	}
	if cn.txErr != nil {
		return cn.txErr
	}
	c := cn.c
	c.statements.Add(1)
	c.roundTrips.Add(1)
	cn.txStatements++
	cn.txRoundTrips++
	if c.trace.Load() != nil {
		cn.txTrace = append(cn.txTrace, "BEGIN")
	}
	tx, err := cn.inner.BeginTx(cn.ctx(), cn.txOpts)
	if err != nil {
		cn.fail(err)
		return err
	}
	cn.innerTx = tx
	return nil
}

// fail records that the transaction cannot commit: what it sent failed
// (or, for a count checked in Go, took a write it must not keep). A
// ROLLBACK TO a savepoint sent before it recovers.
func (cn *countingConn) fail(err error) {
	if cn.txErr == nil {
		cn.txErr, cn.txErrAfter = err, len(cn.sentSavepoints)
	}
}

// lastIndex returns the index after the last entry of the batch that is
// a write (savepoints false) or a savepoint (true); 0 when there is none.
func (cn *countingConn) lastIndex(savepoints bool) int {
	for i := len(cn.batch) - 1; i >= 0; i-- {
		if (cn.batch[i].info == nil) == savepoints {
			return i + 1
		}
	}
	return 0
}

// dependsOnBatch reports whether info must see the kept writes.
func (cn *countingConn) dependsOnBatch(info *stmtInfo) bool {
	for _, b := range cn.batch {
		if b.info == nil {
			continue
		}
		for _, t := range b.info.writes {
			if !info.mentions[t] {
				continue
			}
			if info.plainInsert && b.info.plainInsert && len(info.writes) == 1 && info.writes[0] == t {
				continue
			}
			return true
		}
	}
	return false
}

// keep adds a write to the batch, sending the batch first when the write
// depends on it or would not fit.
func (cn *countingConn) keep(info *stmtInfo, args []driver.NamedValue) (driver.Result, error) {
	params := 0
	names := map[string]bool{}
	for _, b := range cn.batch {
		if b.info != nil {
			params += len(b.args)
			for _, n := range b.info.cteNames {
				names[n] = true
			}
		}
	}
	clash := false
	for _, n := range info.cteNames {
		clash = clash || names[n]
	}
	if clash || params+len(args) > maxBatchParams || cn.dependsOnBatch(info) {
		if err := cn.flushBatch(cn.ctx()); err != nil {
			return nil, err
		}
	}
	r := &batchResult{cn: cn}
	cn.batch = append(cn.batch, batched{info: info, args: args, result: r})
	if info.expect >= 0 {
		return expectedRowsResult(info.expect), nil
	}
	return r, nil
}

// flushBatch sends the kept writes, and the savepoints kept between
// them; a savepoint after the last write stays kept.
func (cn *countingConn) flushBatch(ctx context.Context) error {
	return cn.sendThrough(ctx, cn.lastIndex(false))
}

// flushAll sends the kept writes and savepoints, before a statement that
// a rollback to one of them must undo.
func (cn *countingConn) flushAll(ctx context.Context) error {
	return cn.sendThrough(ctx, len(cn.batch))
}

// sendThrough sends the batch's first n entries in order, writes as one
// statement between savepoints, and keeps the rest.
func (cn *countingConn) sendThrough(ctx context.Context, n int) error {
	if cn.txErr != nil {
		return cn.txErr
	}
	if n == 0 {
		return nil
	}
	if err := cn.ensureBegun(); err != nil {
		return err
	}
	head := cn.batch[:n]
	cn.batch = append([]batched(nil), cn.batch[n:]...)
	var run []batched
	for i, b := range head {
		if b.info != nil {
			run = append(run, b)
			continue
		}
		err := cn.sendWrites(ctx, run)
		if err == nil {
			err = cn.sendPlain(ctx, "SAVEPOINT "+pq.QuoteIdentifier(b.savepoint))
		}
		if err != nil {
			cn.fail(err)
			failResults(head[i:], err)
			failResults(cn.batch, err)
			return err
		}
		cn.sentSavepoints = append(cn.sentSavepoints, b.savepoint)
		run = nil
	}
	if err := cn.sendWrites(ctx, run); err != nil {
		failResults(cn.batch, err)
		return err
	}
	return nil
}

func failResults(bs []batched, err error) {
	for _, b := range bs {
		if b.result != nil && !b.result.sent {
			b.result.sent, b.result.err = true, err
		}
	}
}

// sendPlain sends a statement without arguments in the transaction.
func (cn *countingConn) sendPlain(ctx context.Context, query string) error {
	cn.c.statement(cn, query, 1)
	_, err := cn.inner.ExecContext(ctx, query, nil)
	return err
}

// sendWrites sends writes as one statement (a single unmarked write as
// it is); a failure fails the transaction (fail).
func (cn *countingConn) sendWrites(ctx context.Context, run []batched) error {
	if len(run) == 0 {
		return nil
	}
	query, args := combineWrites(run)
	failed := func(err error) error {
		cn.forgetPreparedWrite(query, err)
		failResults(run, err)
		cn.fail(err)
		return err
	}
	var st driver.Stmt
	if len(args) > 0 {
		var err error
		if st, err = cn.preparedWrite(ctx, query); err != nil {
			return failed(err)
		}
	}
	rt := argRoundTrips(len(args))
	if st != nil {
		rt = 1 // bind and execute
	}
	cn.c.statement(cn, query, rt)
	if len(run) == 1 && run[0].info.with == nil && run[0].info.expect < 0 {
		b := run[0]
		res, err := cn.execWrite(ctx, st, query, args)
		if err != nil {
			return failed(err)
		}
		b.result.sent = true
		b.result.rows, b.result.err = res.RowsAffected()
		return nil
	}
	rows, err := cn.queryWrite(ctx, st, query, args)
	if err != nil {
		return failed(err)
	}
	counts := make([]driver.Value, len(run))
	err = rows.Next(counts)
	if err == io.EOF {
		err = errors.New("postgres: a batch of writes returned no row")
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return failed(err)
	}
	for i, b := range run {
		n, _ := counts[i].(int64)
		b.result.sent, b.result.rows = true, n
	}
	return nil
}

// combineWrites writes run as one statement: each write a WITH query
// (its own WITH queries lifted beside it) and a final SELECT of how many
// rows each changed, checking those marked with sqlmark.ExpectRows. A
// single unmarked write without WITH queries is sent as it is.
func combineWrites(run []batched) (string, []driver.NamedValue) {
	if len(run) == 1 && run[0].info.with == nil && run[0].info.expect < 0 {
		var b strings.Builder
		run[0].info.main.write(&b, 0)
		return b.String(), renumber(nil, run[0].args)
	}
	var args []driver.NamedValue
	var b strings.Builder
	b.WriteString("WITH ")
	first := true
	sep := func() {
		if !first {
			b.WriteString(", ")
		}
		first = false
	}
	offsets := make([]int, len(run))
	for i, w := range run {
		offsets[i] = len(args)
		args = renumber(args, w.args)
		if w.info.with != nil {
			sep()
			w.info.with.write(&b, offsets[i])
		}
	}
	for i, w := range run {
		sep()
		fmt.Fprintf(&b, "keyward_batch_%d AS (", i+1)
		w.info.main.write(&b, offsets[i])
		if !w.info.mainSelect {
			b.WriteString(" RETURNING 1")
		}
		b.WriteString(")")
	}
	b.WriteString(" SELECT ")
	for i, w := range run {
		if i > 0 {
			b.WriteString(", ")
		}
		count := "(SELECT count(*) FROM keyward_batch_" + strconv.Itoa(i+1) + ")"
		if w.info.expect >= 0 {
			fmt.Fprintf(&b, "keyward_expect_rows(%s, %d, %s, %t)", count, w.info.expect, pq.QuoteLiteral(describeWrite(w.info)), w.info.retry)
		} else {
			b.WriteString(count)
		}
	}
	return b.String(), args
}

// renumber appends args to to, numbered after those already there.
func renumber(to, args []driver.NamedValue) []driver.NamedValue {
	base := len(to)
	for _, a := range args {
		a.Ordinal += base
		to = append(to, a)
	}
	return to
}

// describeWrite names a write in an expected-rows error: its kind and
// tables, never its values.
func describeWrite(info *stmtInfo) string {
	verb := "write"
	if f := strings.Fields(info.main.text); len(f) > 0 {
		verb = strings.ToUpper(f[0])
	}
	return verb + " " + strings.Join(info.writes, ", ")
}

// execInTx runs an Exec in the transaction: batched, kept, or sent after
// the batch.
func (cn *countingConn) execInTx(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	info := classify(query)
	if info.kind == stmtRollbackTo {
		return cn.rollbackTo(ctx, query, info.savepoint)
	}
	if cn.txErr != nil {
		return nil, cn.txErr
	}
	if cn.txOpts.ReadOnly && info.kind == stmtWrite {
		info = &stmtInfo{kind: stmtOther, expect: -1} // sent, for the server to refuse
	}
	switch info.kind {
	case stmtWrite:
		return cn.keep(info, args)
	case stmtFlush:
		// The savepoints still kept are done with and never sent: a
		// rollback to one after the writes fail finds none sent since the
		// failure, and the transaction cannot recover (InConsumeTx names
		// each handling's savepoint apart, so that such a rollback never
		// reaches an earlier handling's).
		cn.batch = slices.DeleteFunc(cn.batch, func(b batched) bool { return b.info == nil })
		return driver.RowsAffected(0), cn.flushBatch(ctx)
	case stmtSync:
		return driver.RowsAffected(0), cn.flushAll(ctx)
	case stmtSavepoint:
		cn.batch = append(cn.batch, batched{savepoint: info.savepoint})
		return driver.RowsAffected(0), nil
	case stmtRelease:
		if cn.releaseKept(info.savepoint) {
			return driver.RowsAffected(0), nil
		}
		if i := lastSavepoint(cn.sentSavepoints, info.savepoint); i >= 0 {
			cn.sentSavepoints = cn.sentSavepoints[:i] // the latest of the name, and those after it
		}
	}
	if err := cn.flushAll(ctx); err != nil {
		return nil, err
	}
	if err := cn.ensureBegun(); err != nil {
		return nil, err
	}
	cn.c.statement(cn, query, argRoundTrips(len(args)))
	res, err := cn.inner.ExecContext(ctx, query, args)
	if err != nil {
		cn.fail(err)
	}
	return res, err
}

// rollbackTo handles ROLLBACK TO a savepoint: one still kept drops the
// writes kept since it and sends nothing; one sent is sent, drops what is
// kept (all of it after the savepoint) and recovers from a failure after
// it.
func (cn *countingConn) rollbackTo(ctx context.Context, query, name string) (driver.Result, error) {
	for i := len(cn.batch) - 1; i >= 0; i-- {
		if b := cn.batch[i]; b.info == nil && b.savepoint == name {
			if cn.txErr != nil {
				return nil, cn.txErr // the failure was sent before the savepoint
			}
			failResults(cn.batch[i+1:], nil)
			cn.batch = cn.batch[:i+1]
			return driver.RowsAffected(0), nil
		}
	}
	at := lastSavepoint(cn.sentSavepoints, name) // the server's: the latest of the name
	if cn.txErr != nil && (at < 0 || at >= cn.txErrAfter) {
		return nil, cn.txErr
	}
	failResults(cn.batch, nil)
	cn.batch = nil
	cn.c.statement(cn, query, 1)
	res, err := cn.inner.ExecContext(ctx, query, nil)
	if err != nil {
		cn.fail(err)
		return res, err
	}
	cn.txErr = nil
	if at >= 0 {
		cn.sentSavepoints = cn.sentSavepoints[:at+1]
	}
	return res, nil
}

// lastSavepoint is the index of the latest savepoint named name among
// sent, -1 when there is none.
func lastSavepoint(sent []string, name string) int {
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i] == name {
			return i
		}
	}
	return -1
}

// releaseKept handles RELEASE of a savepoint still kept: it is forgotten.
func (cn *countingConn) releaseKept(name string) bool {
	for i := len(cn.batch) - 1; i >= 0; i-- {
		if b := cn.batch[i]; b.info == nil && b.savepoint == name {
			cn.batch = append(cn.batch[:i:i], cn.batch[i+1:]...)
			return true
		}
	}
	return false
}

// beforeRead sends what a read in the transaction must follow: the kept
// writes it depends on (or all, for a read that writes or takes an
// advisory lock), and the kept savepoints when it locks rows (a rollback
// to one of them must free its locks).
func (cn *countingConn) beforeRead(ctx context.Context, query string) error {
	if cn.txErr != nil {
		return cn.txErr
	}
	if len(cn.batch) > 0 {
		info := classify(query)
		var err error
		switch {
		case info.locking || !isRead(query) || info.mentions == nil:
			err = cn.flushAll(ctx)
		case cn.dependsOnBatch(info):
			err = cn.flushBatch(ctx)
			if err == nil && info.rowLock {
				err = cn.flushAll(ctx)
			}
		case info.rowLock:
			err = cn.sendThrough(ctx, cn.lastIndex(true))
		}
		if err != nil {
			return err
		}
	}
	return cn.ensureBegun()
}

// commitTx ends the transaction with a commit: a transaction whose
// statements were all batched commits as its batch, one statement.
func (cn *countingConn) commitTx() error {
	defer cn.resetTx()
	// Savepoints kept unsent are never rolled back to now.
	kept := cn.batch[:0]
	for _, b := range cn.batch {
		if b.info != nil {
			kept = append(kept, b)
		}
	}
	cn.batch = kept
	ctx := cn.ctx()
	if cn.innerTx == nil {
		if err := cn.txErr; err != nil {
			failResults(cn.batch, err)
			cn.endLazyTx()
			return err
		}
		// Nothing was sent: the batch, if any, is the transaction, one
		// statement on its own (counted as such).
		run := cn.batch
		cn.endLazyTx()
		return cn.sendWrites(ctx, run)
	}
	err := cn.txErr
	if err == nil {
		err = cn.flushBatch(ctx)
	}
	tx := cn.innerTx
	if err != nil {
		cn.endTx("ROLLBACK")
		cn.c.rollbacks.Add(1)
		_ = tx.Rollback()
		return err
	}
	if cn.endTx("COMMIT") {
		cn.c.writeTx.Add(1)
	} else {
		cn.c.readTx.Add(1)
	}
	return tx.Commit()
}

// rollbackTx ends the transaction with a rollback: the batch is dropped,
// and a transaction never begun sends nothing. A connection lost before
// anything was sent is reported as such (driver.ErrBadConn), so that the
// transaction is run again on another.
func (cn *countingConn) rollbackTx() error {
	defer cn.resetTx()
	failResults(cn.batch, nil)
	if cn.innerTx == nil {
		lost := cn.txErr != nil && connectionLost(cn.txErr)
		cn.endLazyTx()
		if lost {
			return driver.ErrBadConn
		}
		return nil
	}
	cn.endTx("ROLLBACK")
	cn.c.rollbacks.Add(1)
	return cn.innerTx.Rollback()
}

// resetTx forgets the transaction's batch state.
func (cn *countingConn) resetTx() {
	cn.txBatch = txBatch{}
}

// endLazyTx ends a transaction whose BEGIN was never sent.
func (cn *countingConn) endLazyTx() {
	cn.txTrace = nil
	cn.inTx, cn.wrote, cn.sawRow, cn.txStatements, cn.txRoundTrips = false, false, false, 0, 0
}
