package postgres

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/domain"
)

// A transaction's writes are batched at the driver: an INSERT, UPDATE or
// DELETE (without RETURNING) run in a transaction is not sent at once but
// kept, and the kept writes go to the server as one statement, each a
// data-modifying WITH query of it, when something needs them written:
//
//   - a read that names a table a kept write changes, takes an advisory
//     lock, or writes itself;
//   - a statement the batch does not take (SET, a savepoint sent, ...);
//   - a write that depends on a kept one (it names a table a kept write
//     changes, unless both are plain INSERT ... VALUES into the table);
//   - RowsAffected of a kept write (unless marked with ExpectRows);
//   - the commit.
//
// BEGIN itself waits for the first statement that must be sent inside the
// transaction: a transaction whose statements were all batched commits as
// the one statement, without BEGIN and COMMIT. A SAVEPOINT waits likewise
// for a write sent after it; ROLLBACK TO one not sent drops the writes
// kept since it, and sends nothing.
//
// The statements of one batch see the database as it was before the
// batch (they run with one snapshot), which is why a write that names a
// table changed by a kept write is never batched with it, and why reads
// that name such a table send the batch first. A failed write fails its
// batch: the error comes back from the statement that sent the batch (a
// read, RowsAffected or the commit), and the transaction is rolled back.

// errExpectedRowsCode is the SQLSTATE keyward_expect_rows raises.
const errExpectedRowsCode = pqerror.Code("KW409")

// maxBatchParams keeps a batch within the protocol's 65535 parameters.
const maxBatchParams = 60000

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
		if err := r.cn.flushBatch(context.Background()); err != nil {
			return 0, err
		}
	}
	return r.rows, r.err
}

// expectedRowsResult answers RowsAffected of a write marked with
// ExpectRows: the batch fails unless the write changes that many rows.
type expectedRowsResult int64

func (r expectedRowsResult) LastInsertId() (int64, error) {
	return 0, errors.New("postgres: LastInsertId is not supported")
}
func (r expectedRowsResult) RowsAffected() (int64, error) { return int64(r), nil }

// ensureBegun sends the transaction's BEGIN if it has not been sent.
func (cn *countingConn) ensureBegun(ctx context.Context) error {
	if !cn.inTx || cn.innerTx != nil {
		return nil
	}
	c := cn.c
	c.statements.Add(1)
	c.roundTrips.Add(1)
	cn.txStatements++
	cn.txRoundTrips++
	if c.trace.Load() != nil {
		cn.txTrace = append(cn.txTrace, "BEGIN")
	}
	tx, err := cn.inner.BeginTx(ctx, cn.txOpts)
	if err != nil {
		cn.txErr = cmp.Or(cn.txErr, err)
		return err
	}
	cn.innerTx = tx
	return nil
}

// writesPending reports whether the batch holds a write.
func (cn *countingConn) writesPending() bool {
	for _, b := range cn.batch {
		if b.info != nil {
			return true
		}
	}
	return false
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
func (cn *countingConn) keep(ctx context.Context, info *stmtInfo, args []driver.NamedValue) (driver.Result, error) {
	params := 0
	var names map[string]bool
	for _, b := range cn.batch {
		if b.info != nil {
			params += len(b.args)
			for _, n := range b.info.cteNames {
				if names == nil {
					names = map[string]bool{}
				}
				names[n] = true
			}
		}
	}
	clash := false
	for _, n := range info.cteNames {
		clash = clash || names[n]
	}
	if clash || params+len(args) > maxBatchParams || cn.dependsOnBatch(info) {
		if err := cn.flushBatch(ctx); err != nil {
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

// flushBatch sends the kept writes, with the savepoints kept between
// them, and leaves a savepoint after the last write kept unsent.
func (cn *countingConn) flushBatch(ctx context.Context) error {
	if !cn.writesPending() {
		return nil
	}
	if err := cn.ensureBegun(ctx); err != nil {
		cn.dropBatch(err)
		return err
	}
	batch := cn.batch
	cn.batch = nil
	var run []batched
	for i, b := range batch {
		if b.info != nil {
			run = append(run, b)
			continue
		}
		rest := false
		for _, after := range batch[i+1:] {
			rest = rest || after.info != nil
		}
		if !rest {
			cn.batch = append(cn.batch, batch[i:]...) // savepoints after the last write wait
			break
		}
		if err := cn.sendWrites(ctx, run); err != nil {
			cn.failBatch(batch[i+1:], err)
			return err
		}
		run = nil
		if err := cn.sendPlain(ctx, "SAVEPOINT "+pq.QuoteIdentifier(b.savepoint)); err != nil {
			cn.failBatch(batch[i+1:], err)
			return err
		}
	}
	return cn.sendWrites(ctx, run)
}

// dropBatch forgets the kept writes (a rollback), answering their
// RowsAffected with err (nil: no row).
func (cn *countingConn) dropBatch(err error) {
	cn.failBatch(cn.batch, err)
	cn.batch = nil
}

func (cn *countingConn) failBatch(bs []batched, err error) {
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

// sendWrites sends writes as one statement (a single write as it is).
func (cn *countingConn) sendWrites(ctx context.Context, run []batched) error {
	if len(run) == 0 {
		return nil
	}
	query, args := combineWrites(run)
	cn.c.statement(cn, query, argRoundTrips(len(args)))
	if len(run) == 1 && run[0].info.with == nil {
		b := run[0]
		res, err := cn.inner.ExecContext(ctx, query, args)
		if err != nil {
			cn.failBatch(run, err)
			cn.txErr = cmp.Or(cn.txErr, err)
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && b.info.expect >= 0 && n != b.info.expect {
			// The server took the write: the transaction must not commit.
			err = expectedRowsError(b.info, n)
			cn.txErr = cmp.Or(cn.txErr, err)
		}
		b.result.sent, b.result.rows, b.result.err = true, n, err
		return err
	}
	rows, err := cn.inner.QueryContext(ctx, query, args)
	if err != nil {
		cn.failBatch(run, err)
		cn.txErr = cmp.Or(cn.txErr, err)
		return err
	}
	counts := make([]driver.Value, len(run))
	err = rows.Next(counts)
	if cerr := rows.Close(); err == nil || err == io.EOF {
		if err == io.EOF {
			err = errors.New("postgres: a batch of writes returned no row")
		}
		if cerr != nil {
			err = cerr
		}
	}
	if err != nil {
		cn.failBatch(run, err)
		cn.txErr = cmp.Or(cn.txErr, err)
		return err
	}
	for i, b := range run {
		n, _ := counts[i].(int64)
		b.result.sent, b.result.rows = true, n
	}
	return nil
}

// combineWrites writes run as one statement: each write a WITH query
// (its own WITH queries lifted beside it) and a final SELECT of how many
// rows each changed, checking those marked with ExpectRows.
func combineWrites(run []batched) (string, []driver.NamedValue) {
	var args []driver.NamedValue
	if len(run) == 1 && run[0].info.with == nil {
		var b strings.Builder
		run[0].info.main.write(&b, 0)
		return b.String(), renumber(nil, run[0].args)
	}
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
			fmt.Fprintf(&b, "keyward_expect_rows(%s, %d, %s)", count, w.info.expect, pq.QuoteLiteral(describeWrite(w.info)))
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

func expectedRowsError(info *stmtInfo, got int64) error {
	return errExpectedRows{fmt.Errorf("%w: %s changed %d rows, expected %d (changed since read)", domain.ErrConflict, describeWrite(info), got, info.expect)}
}

// rollbackToKept handles ROLLBACK TO a savepoint still kept: the writes
// kept since it are dropped and nothing is sent. It reports whether the
// savepoint was kept.
func (cn *countingConn) rollbackToKept(name string) bool {
	for i := len(cn.batch) - 1; i >= 0; i-- {
		if b := cn.batch[i]; b.info == nil && b.savepoint == name {
			cn.failBatch(cn.batch[i+1:], nil)
			cn.batch = cn.batch[:i+1]
			return true
		}
	}
	return false
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

// execInTx runs an Exec in the transaction: batched, kept, or sent after
// the batch.
func (cn *countingConn) execInTx(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if cn.txErr != nil {
		return nil, cn.txErr
	}
	info := classify(query)
	switch info.kind {
	case stmtWrite:
		return cn.keep(ctx, info, args)
	case stmtSavepoint:
		cn.batch = append(cn.batch, batched{savepoint: info.savepoint})
		return driver.RowsAffected(0), nil
	case stmtRollbackTo:
		if cn.rollbackToKept(info.savepoint) {
			return driver.RowsAffected(0), nil
		}
		// The savepoint was sent: so was every write before it, and
		// those kept since are undone with it.
		cn.dropBatch(nil)
	case stmtRelease:
		if cn.releaseKept(info.savepoint) {
			return driver.RowsAffected(0), nil
		}
	}
	if err := cn.flushBatch(ctx); err != nil {
		return nil, err
	}
	if err := cn.ensureBegun(ctx); err != nil {
		return nil, err
	}
	cn.c.statement(cn, query, argRoundTrips(len(args)))
	return cn.inner.ExecContext(ctx, query, args)
}

// beforeRead sends what a read in the transaction must see first.
func (cn *countingConn) beforeRead(ctx context.Context, query string) error {
	if cn.txErr != nil {
		return cn.txErr
	}
	if cn.writesPending() {
		info := classify(query)
		if info.locking || !isRead(query) || cn.dependsOnBatch(info) || info.mentions == nil {
			if err := cn.flushBatch(ctx); err != nil {
				return err
			}
		}
	}
	return cn.ensureBegun(ctx)
}

// commitTx ends the transaction with a commit: a transaction whose
// statements were all batched commits as its batch, one statement.
func (cn *countingConn) commitTx() error {
	defer func() { cn.txErr = nil }()
	// Savepoints kept unsent are never rolled back to now.
	kept := cn.batch[:0]
	for _, b := range cn.batch {
		if b.info != nil {
			kept = append(kept, b)
		}
	}
	cn.batch = kept
	ctx := context.Background()
	if cn.innerTx == nil {
		if err := cn.txErr; err != nil {
			cn.dropBatch(err)
			cn.endLazyTx()
			return err
		}
		run := cn.batch
		cn.batch = nil
		cn.endLazyTx()
		// Nothing was sent: the batch, if any, is the transaction, one
		// statement on its own (counted as such).
		return cn.sendWrites(ctx, run)
	}
	err := cn.txErr
	if err == nil {
		err = cn.flushBatch(ctx)
	}
	if err != nil {
		cn.endTx("ROLLBACK")
		cn.c.rollbacks.Add(1)
		tx := cn.innerTx
		cn.innerTx = nil
		_ = tx.Rollback()
		return err
	}
	if cn.endTx("COMMIT") {
		cn.c.writeTx.Add(1)
	} else {
		cn.c.readTx.Add(1)
	}
	tx := cn.innerTx
	cn.innerTx = nil
	return tx.Commit()
}

// rollbackTx ends the transaction with a rollback: the batch is dropped,
// and a transaction never begun sends nothing.
func (cn *countingConn) rollbackTx() error {
	cn.txErr = nil
	cn.dropBatch(nil)
	if cn.innerTx == nil {
		cn.endLazyTx()
		return nil
	}
	cn.endTx("ROLLBACK")
	cn.c.rollbacks.Add(1)
	tx := cn.innerTx
	cn.innerTx = nil
	return tx.Rollback()
}

// endLazyTx ends a transaction whose BEGIN was never sent.
func (cn *countingConn) endLazyTx() {
	cn.txTrace = nil
	cn.inTx, cn.wrote, cn.sawRow, cn.txStatements, cn.txRoundTrips = false, false, false, 0, 0
}
