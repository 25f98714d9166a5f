// Package postgres implements keyward's storage ports on PostgreSQL with
// sqlx and lib/pq. Aggregates are saved in update-function transactions
// (SELECT ... FOR UPDATE, call, save) and their events are handed to an
// Outbox on the same transaction.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/sqlmark"
	"github.com/keyward/keyward/ports"
)

// Pool settings: enough connections for a busy instance (bootstrap sets
// the maximum from KEYWARD_DATABASE_MAX_CONNS), kept open between bursts
// since a new Postgres connection costs a backend process, and recycled
// so that a failover or a pgbouncer restart is picked up.
const (
	maxOpenConns    = 40 // the queue holds one per partition and topic while a message is handled
	maxIdleConns    = maxOpenConns
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN) and pings it; it returns an error when the server does not answer.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	return OpenCounting(ctx, url, &SQLCounter{})
}

// OpenCounting is Open with every statement the pool sends counted on c.
func OpenCounting(ctx context.Context, url string, c *SQLCounter) (*sqlx.DB, error) {
	conn, err := pq.NewConnector(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := sqlx.NewDb(sql.OpenDB(countingConnector{Connector: conn, c: c}), "postgres")
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return db, nil
}

// errRetry marks a transaction the server aborted to keep transactions
// serialisable (serialization failure, deadlock): running it again can
// succeed.
type errRetry struct{ err error }

func (e errRetry) Error() string { return "retryable: " + e.err.Error() }
func (e errRetry) Unwrap() error { return e.err }

// translate maps driver errors to domain errors: a unique violation to
// domain.ErrConflict, no rows to domain.ErrNotFound, a serialization
// failure or deadlock to an error withTx retries. Others, and errors
// already translated, pass unchanged.
func translate(err error) error {
	switch _, retry := errors.AsType[errRetry](err); {
	case err == nil || retry:
		return err
	case errors.Is(err, sql.ErrNoRows):
		return domain.ErrNotFound // callers say what was not found
	}
	if e := pq.As(err, errExpectedRowsCode); e != nil {
		// A batched write marked with sqlmark.ExpectRows changed another
		// number of rows: what it wrote changed since it was read. Run
		// again, the unit of work reads it under lock (staleSeen).
		return errRetry{err: errExpectedRows{fmt.Errorf("%w: %s", domain.ErrConflict, e.Message)}}
	}
	if e := pq.As(err, errExpectedRowsFinalCode); e != nil {
		return fmt.Errorf("%w: %s", domain.ErrConflict, e.Message)
	}
	if e := pq.As(err, pqerror.UniqueViolation); e != nil {
		return fmt.Errorf("%w: %s (%s)", domain.ErrConflict, e.Message, e.Constraint)
	}
	if e := pq.As(err, pqerror.TRSerializationFailure, pqerror.TRDeadlockDetected); e != nil {
		return errRetry{err: err}
	}
	if _, lost := errors.AsType[errConn](err); !lost && connectionLost(err) {
		return errConn{err: err}
	}
	return err
}

// Retry policy of withTx: a few attempts with a short jittered backoff.
const (
	txAttempts    = 5
	txBaseBackoff = 5 * time.Millisecond
)

// withTx runs fn in a read-write transaction and commits it. An error from
// fn rolls back and is returned as is (after translate); a serialization
// failure, a deadlock or a connection lost before the commit runs fn again
// in a new transaction, a few times. A connection still lost after the last
// attempt, or lost during the commit (whose outcome is then unknown), is
// returned wrapping ports.ErrStorageUnavailable.
func withTx(ctx context.Context, db *sqlx.DB, fn func(*sqlx.Tx) error) error {
	return runTx(ctx, db, nil, fn)
}

func runTx(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(*sqlx.Tx) error) error {
	return runTxCtx(ctx, db, opts, func(_ context.Context, tx *sqlx.Tx) error { return fn(tx) })
}

// errExpectedRows is a write marked with sqlmark.ExpectRows that changed
// another number of rows (a domain.ErrConflict).
type errExpectedRows struct{ err error }

func (e errExpectedRows) Error() string { return e.err.Error() }
func (e errExpectedRows) Unwrap() error { return e.err }

// flushWrites sends what tx's unit of work has batched (batch.go), so
// that a failure of it is known now, as the caller's.
func flushWrites(ctx context.Context, tx *sqlx.Tx) error {
	if _, err := tx.ExecContext(ctx, sqlmark.Flush); err != nil {
		return translate(err)
	}
	return nil
}

// staleSeenKey marks a context whose unit of work is run again after a
// write expected to find a row as it was read found it changed: run
// again, it reads what it updates under lock (Orders.UpdateSeen).
type staleSeenKey struct{}

// staleSeen reports whether ctx's unit of work runs again after a write
// found a row changed since it was read.
func staleSeen(ctx context.Context) bool { return ctx.Value(staleSeenKey{}) != nil }

// runTxCtx is runTx, handing fn the context of its attempt (marked
// staleSeen after an attempt failed on an expected row count).
func runTxCtx(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(context.Context, *sqlx.Tx) error) error {
	if tx := txFrom(ctx); tx != nil {
		// Joined to the unit of work of Transactor.Atomically, which
		// commits, rolls back and retries the whole of it.
		return translate(fn(ctx, tx))
	}
	var err error
	for attempt := range txAttempts {
		if attempt > 0 {
			backoff := txBaseBackoff << (attempt - 1)
			backoff += rand.N(backoff) // jitter so that colliding transactions part ways
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return fmt.Errorf("%w (after: %w)", ctx.Err(), err)
			}
		}
		if _, stale := errors.AsType[errExpectedRows](err); stale && !staleSeen(ctx) {
			ctx = context.WithValue(ctx, staleSeenKey{}, true)
		}
		var again bool
		attemptCtx := ctx
		if again, err = tryTx(ctx, db, opts, func(tx *sqlx.Tx) error { return fn(attemptCtx, tx) }); !again {
			return err
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", txAttempts, err)
}

// tryTx runs fn once in a transaction; again reports whether running it
// anew may succeed: the server aborted it (serialization failure,
// deadlock), or its connection was lost before the commit. A connection
// counts as lost only when the driver says so for the transaction itself
// (the rollback fails too): fn's own network errors (a blob store's, a
// broker's, wrapped with %w) are returned once, since running fn again
// would repeat their side effects, and are no storage outage either.
func tryTx(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(*sqlx.Tx) error) (again bool, err error) {
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		err = translate(err)
		_, lost := errors.AsType[errConn](err)
		return lost, fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		rollbackErr := tx.Rollback()
		err = translate(err)
		if _, retry := errors.AsType[errRetry](err); retry {
			return true, err
		}
		if conn, lost := errors.AsType[errConn](err); lost {
			if connectionLost(rollbackErr) {
				return true, err
			}
			// The transaction's connection is alive: the network error
			// came from elsewhere, as fn wrapped it.
			return false, conn.err
		}
		return false, err
	}
	if err := tx.Commit(); err != nil {
		err = translate(err)
		if _, lost := errors.AsType[errConn](err); lost {
			// The server may have committed before the connection went:
			// running fn again could do the work twice. The caller learns
			// the storage is unavailable and retries as a whole (a client
			// with its Idempotency-Key, a message by redelivery).
			return false, fmt.Errorf("commit, outcome unknown: %w: %v", ports.ErrStorageUnavailable, err)
		}
		_, retry := errors.AsType[errRetry](err)
		return retry, fmt.Errorf("commit: %w", err)
	}
	return false, nil
}

// txKey keys the unit of work in a context.
type txKey struct{}

// unitOfWork is the transaction of a Transactor.Atomically call and what
// to do once it has committed.
type unitOfWork struct {
	tx          *sqlx.Tx
	afterCommit []func()
	// consume is set on the unit of InConsumeTx, the queue's consume
	// transaction; broken once a unit of work joining it failed: the
	// transaction may be aborted, or hold what the failed unit wrote.
	consume, broken bool
	// savepoint is the handling's savepoint in the consume transaction.
	savepoint string
}

func txFrom(ctx context.Context) *sqlx.Tx {
	if u, _ := ctx.Value(txKey{}).(*unitOfWork); u != nil {
		return u.tx
	}
	return nil
}

// afterCommit has fn called once the unit of work in ctx commits (never
// when it rolls back or its outcome is unknown); without a unit of work
// it calls fn at once, the statement before having committed on its own.
func afterCommit(ctx context.Context, fn func()) {
	if u, _ := ctx.Value(txKey{}).(*unitOfWork); u != nil {
		u.afterCommit = append(u.afterCommit, fn)
		return
	}
	fn()
}

// ext is where a statement runs: the unit of work's transaction when ctx
// carries one, the pool otherwise.
func ext(ctx context.Context, db *sqlx.DB) sqlx.ExtContext {
	if tx := txFrom(ctx); tx != nil {
		return tx
	}
	return db
}

// Transactor implements ports.Transactor: a unit of work is one read
// committed transaction, which every repository of this package joins
// through the context.
type Transactor struct{ db *sqlx.DB }

var _ ports.Transactor = (*Transactor)(nil)

// NewTransactor returns units of work on db.
func NewTransactor(db *sqlx.DB) *Transactor { return &Transactor{db: db} }

// Atomically runs fn in one transaction and commits it; see
// ports.Transactor. A unit of work inside another joins it. Inside a
// queue's consume transaction (InConsumeTx) one that fails breaks it: the
// handling of the message fails, and the units of work after it run in
// transactions of their own, so that one retried by its caller (an email's
// audit record) is written rather than lost with the aborted transaction.
func (t *Transactor) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if u, _ := ctx.Value(txKey{}).(*unitOfWork); u != nil {
		switch {
		case !u.consume:
			return fn(ctx)
		case u.broken:
			return t.Atomically(context.WithValue(ctx, txKey{}, (*unitOfWork)(nil)), fn)
		}
		if err := fn(ctx); err != nil {
			// Undo the message's handling at once, so that the locks it
			// took (the mailer's mark, say) hold up no unit of work run
			// apart after it; InConsumeTx rolls back again at the end.
			u.broken = true
			return rollbackHandling(ctx, u.tx, u.savepoint, err)
		}
		return nil
	}
	var (
		u     *unitOfWork
		acked bool
	)
	msg := concludedMessage(ctx)
	err := runTxCtx(ctx, t.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(ctx context.Context, tx *sqlx.Tx) error {
		u, acked = &unitOfWork{tx: tx}, false // a retried transaction starts afresh
		if err := fn(context.WithValue(ctx, txKey{}, u)); err != nil {
			return err
		}
		if msg == nil {
			return nil
		}
		var err error
		if acked, err = sendAck(ctx, tx, msg); err != nil {
			return fmt.Errorf("acknowledge the message with the handling's last unit of work: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if acked {
		msg.Acked()
	}
	for _, f := range u.afterCommit {
		f()
	}
	return nil
}
