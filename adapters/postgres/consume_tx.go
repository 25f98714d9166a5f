package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/internal/sqlmark"
	"github.com/keyward/keyward/ports"
)

// ConsumeTx is the transaction in which a queue consumer reads a message
// and commits its acknowledgement (messaging.ConsumeTx on the SQL queue).
type ConsumeTx interface {
	// Tx is the transaction, open while the message is handled.
	Tx() *sqlx.Tx
	// AfterCommit has fn called once the transaction commits.
	AfterCommit(fn func())
	// Ack returns the statement acknowledging the message being handled,
	// for the handling to send with its writes; false when there is none.
	Ack() (query string, args []any, ok bool)
	// Acked records that Ack's statement was sent, so that the
	// subscriber does not send it again.
	Acked()
	// Eager reports whether the message aborted a batch before: its
	// handling's savepoint is then sent at once, so that a failure of
	// its own can be rolled back (and the message retried, dead-lettered
	// at last) instead of aborting the batch again.
	Eager() bool
}

// handlings numbers the savepoints InConsumeTx takes before a message's
// handling, and rolls back to when the handling fails: each its own name,
// so that a rollback never reaches the savepoint of an earlier handling
// of the same transaction (the server rolls back to the latest of a
// name, and a handling's savepoint is sent only when something a rollback
// must undo follows it, see batch.go).
var handlings atomic.Uint64

// rollbackHandling rolls tx back to the handling's savepoint after err
// (nil: a panic), under a context that outlives a cancelled one; err comes
// back, with the rollback's own failure when it fails: the transaction
// can then not commit, and the error wraps ports.ErrConsumeAborted.
func rollbackHandling(ctx context.Context, tx *sqlx.Tx, savepoint string, err error) error {
	if _, rerr := tx.ExecContext(context.WithoutCancel(ctx), `ROLLBACK TO SAVEPOINT `+savepoint); rerr != nil && err != nil {
		return fmt.Errorf("%w (%w: rolling back to the handling's savepoint: %v)", err, ports.ErrConsumeAborted, translate(rerr))
	}
	return err
}

// errConsumeTxBroken fails the handling of a message during which a unit
// of work failed inside the consume transaction.
var errConsumeTxBroken = errors.New("a unit of work failed inside the consume transaction: the message's handling is rolled back to be tried again")

// InConsumeTx runs fn, a queue handler's handling of one message, inside
// c with every unit of work (Transactor.Atomically) and every statement
// of this package's repositories made with fn's context joining c, in a
// savepoint taken before fn runs: when fn fails (or panics) the
// transaction is rolled back to it, and what fn wrote when it succeeds
// commits with the acknowledgement of the message or not at all. So its
// writes can neither outlive a rolled-back acknowledgement (a nack, a
// stop, a crash: the message comes back) nor be left by an attempt that
// failed. The message's acknowledgement (c.Ack) is written at the end of
// fn's handling, with fn's writes in one statement; the subscriber's own
// acknowledgement, when it names this message (the batch's last one
// acknowledged), then sends nothing. The savepoint is left to the commit
// rather than released, one statement less; each handling's savepoint
// has a name of its own, so that a rollback never reaches another's.
// What the units of work would run after their commit runs once c
// commits. It returns fn's error as it is (wrapped with ports.ErrConsumeAborted
// when the rollback to the savepoint fails too: the batch is given up); when fn succeeds though a
// unit of work in it failed (a caller that got over the failure,
// retrying in a transaction of its own), it returns errConsumeTxBroken
// and rolls back to the savepoint all the same: c may be aborted, and the
// message's handling is tried again.
//
// The consumer's transaction is read committed, but it lives until its
// batch of messages is handled, holding the row locks of every handling
// before it, and a unit of work that fails in it is not run again in it:
// run in it only handlers whose units of work insert rows (an audit
// record, say, and the mailer's mark that it is written) rather than
// update rows other processes update, and never one whose unit of work
// must commit before it calls out (fulfilment's begun mark, before the
// supplier is called). A handler that updates such rows concludes with a
// unit of work of its own that acknowledges the message instead
// (ConcludeIn).
func InConsumeTx(ctx context.Context, c ConsumeTx, fn func(context.Context) error) (err error) {
	tx := c.Tx()
	savepoint := fmt.Sprintf("handling_%d", handlings.Add(1))
	if _, err := tx.ExecContext(ctx, `SAVEPOINT `+savepoint); err != nil {
		return fmt.Errorf("savepoint before handling: %w (%w)", translate(err), ports.ErrConsumeAborted)
	}
	if c.Eager() {
		if _, err := tx.ExecContext(ctx, sqlmark.Sync); err != nil {
			return fmt.Errorf("send the savepoint before handling: %w (%w)", translate(err), ports.ErrConsumeAborted)
		}
	}
	u := &unitOfWork{tx: tx, consume: true, savepoint: savepoint}
	done := false
	defer func() {
		if done {
			return
		}
		// fn failed or panicked: nothing of it may commit with the
		// acknowledgement.
		err = rollbackHandling(ctx, tx, savepoint, err)
	}()
	if err := fn(context.WithValue(ctx, txKey{}, u)); err != nil {
		return err
	}
	if u.broken {
		// fn got over a unit of work that failed, but the transaction may
		// be aborted or hold half of that unit: never acknowledge on it.
		return errConsumeTxBroken
	}
	// The message is acknowledged with fn's writes, and they are sent
	// now, as one statement, so that their failure is fn's, not the next
	// message's or the batch's commit.
	ack, err := sendAck(ctx, tx, c)
	if err != nil {
		return fmt.Errorf("acknowledge with the handling: %w", err)
	}
	if err := flushWrites(ctx, tx); err != nil {
		return err
	}
	if ack {
		c.Acked()
	}
	done = true
	for _, f := range u.afterCommit {
		c.AfterCommit(f)
	}
	return nil
}

// concludeKey keys the consume transaction whose message a concluding
// unit of work acknowledges (ConcludeIn).
type concludeKey struct{}

// ConcludeIn returns ctx, a queue handler's, in which the unit of work
// that concludes the handling (ports.Concluding) acknowledges the message
// c consumes with its own writes, in its own transaction: c then has no
// acknowledgement to write for it, and commits no write of its own. The
// acknowledgement never takes the group's offset back, so one that
// commits after c gave the message up (its ack deadline) leaves the
// offset where later handlings took it.
func ConcludeIn(ctx context.Context, c ConsumeTx) context.Context {
	return context.WithValue(ctx, concludeKey{}, c)
}

// concludedMessage is the consume transaction ctx's unit of work
// acknowledges the message of: nil unless ctx is ports.Concluding within
// ConcludeIn.
func concludedMessage(ctx context.Context) ConsumeTx {
	c, _ := ctx.Value(concludeKey{}).(ConsumeTx)
	if c == nil || !ports.IsConcluding(ctx) {
		return nil
	}
	if _, inConsume := ctx.Value(txKey{}).(*unitOfWork); inConsume {
		// A handling inside the consume transaction (InConsumeTx)
		// acknowledges there, with all its writes or none; a unit run
		// apart after one failed in it must not move the offset alone.
		return nil
	}
	return c
}

// sendAck sends, in tx, the acknowledgement of the message c hands out,
// kept with tx's writes; false when there is none. The caller calls
// c.Acked once it is sent (InConsumeTx) or committed (a concluding unit).
func sendAck(ctx context.Context, tx *sqlx.Tx, c ConsumeTx) (bool, error) {
	q, args, ok := c.Ack()
	if !ok {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return false, translate(err)
	}
	return true, nil
}
