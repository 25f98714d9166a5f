package messaging

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/internal/sqlmark"
)

// ConsumeTx is the transaction in which a SQL subscriber reads a message
// and, once the handler has acknowledged it, writes its offset and
// commits; a nack, a stop or a crash leaves it uncommitted. The handler
// finds it in the message's context (ConsumeTxFrom), so that writes that
// must not outlive a rolled-back acknowledgement commit with it. It holds
// the transaction open while the handler runs: only storage work joins it.
//
// A handler may acknowledge its message itself, with its own writes
// (Ack, Acked): the handling's writes and its message's offset then reach
// Postgres as one statement, and the subscriber's acknowledgement of that
// same message after the handling sends nothing.
type ConsumeTx struct {
	tx *sqlx.Tx

	mu      sync.Mutex
	after   []func()
	handing *wsql.Query // the acknowledgement of the message handed out
	written string      // key (ackKey) of the last acknowledgement a handling wrote
	eager   bool        // the message handed out aborted a batch before
	aborted bool        // Abort was called: the transaction is rolled back
	handed  []string    // keys of the messages handed out
	acked   string      // key of the subscriber's acknowledgement, once run
	locked  bool        // the consumer lock is taken (QueryContext)
}

// ackKey names an acknowledgement by its statement and arguments, which
// name the consumer group and the message.
func ackKey(q wsql.Query) string { return fmt.Sprint(q.Query, q.Args) }

var _ wsql.Tx = (*ConsumeTx)(nil)

// ConsumeTxFrom returns the transaction a SQL subscriber consumes the
// message of ctx (a handler's message context) in; false for a message
// from another queue.
func ConsumeTxFrom(ctx context.Context) (*ConsumeTx, bool) {
	tx, ok := wsql.TxFromContext(ctx)
	if !ok {
		return nil, false
	}
	c, ok := tx.(*ConsumeTx)
	return c, ok
}

// Tx returns the transaction, for storage to join.
func (t *ConsumeTx) Tx() *sqlx.Tx { return t.tx }

// AfterCommit has fn called once the transaction commits, never when it
// rolls back.
func (t *ConsumeTx) AfterCommit(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.after = append(t.after, fn)
}

// ExecContext implements wsql.Tx. The acknowledgement, an upsert of the
// group's offset, changes one row: marked so, it is batched with the
// handler's writes (Watermill reads its RowsAffected only to log it). The
// acknowledgement of the message a handling acknowledged itself (Acked)
// is sent no second time. The statement naming the message handed out
// (handedOut, see offsetsAdapter) is kept, never sent.
func (t *ConsumeTx) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	if query == handedOut {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.aborted {
			return nil, errAborted
		}
		if len(args) == 1 {
			if ack, ok := args[0].(wsql.Query); ok {
				t.handing = &ack
				key := ackKey(ack)
				t.handed = append(t.handed, key)
				t.eager = abortedBy.has(key)
			}
		}
		return keptResult(0), nil
	}
	if t.isAborted() {
		return nil, errAborted
	}
	if isAck(query) {
		key := ackKey(wsql.Query{Query: query, Args: args})
		t.mu.Lock()
		done := t.written != "" && t.written == key
		t.acked = key
		t.mu.Unlock()
		if done {
			return keptResult(1), nil
		}
		query = sqlmark.ExpectRows(1, query)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// isAck reports whether query is Watermill's acknowledgement: the upsert
// of a consumer group's offset.
func isAck(query string) bool {
	return strings.HasPrefix(query, `INSERT INTO "watermill_offsets_`) && strings.Contains(query, "DO UPDATE SET")
}

// Ack returns the statement acknowledging the message being handled (its
// group's offset set to it), marked to change one row, for the handling
// to send with its own writes; false when no message was handed out.
// Once it is sent, Acked says so.
func (t *ConsumeTx) Ack() (string, []any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.handing == nil {
		return "", nil, false
	}
	return sqlmark.ExpectRows(1, t.handing.Query), t.handing.Args, true
}

// Acked records that the handling of the message being handed out sent
// its acknowledgement (Ack) successfully: the subscriber's own
// acknowledgement, when it names the same offset, sends nothing.
//
// The acknowledgement may have been sent in this transaction or, by a
// handling's concluding unit of work (postgres.ConcludeIn), in a
// transaction of its own that has committed.
//
// The router acknowledges a message whose handling succeeded; only a
// race with the subscriber's stop or the ack deadline leaves one
// unacknowledged all the same. When an earlier message of the batch was
// acknowledged, the subscriber's acknowledgement names that one: it is
// sent and leaves the offset where the handling put it (an
// acknowledgement never moves it back, see offsetsAdapter): the message
// was handled. When none was, Watermill commits without an
// acknowledgement of its own, and the offset the handling wrote stands
// with the handling's writes: the message was handled, once.
func (t *ConsumeTx) Acked() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.handing != nil {
		t.written = ackKey(*t.handing)
	}
}

// keptResult is the result of a statement ConsumeTx did not send.
type keptResult int64

func (r keptResult) RowsAffected() (int64, error) { return int64(r), nil }

// QueryContext implements wsql.Tx. Before the read of a group's offset
// and messages it takes the consumer lock that read names (see
// offsetsAdapter), once a transaction, in a statement without arguments
// (one round trip): the read then waits for the consumer before it to
// commit, and its snapshot sees that commit.
func (t *ConsumeTx) QueryContext(ctx context.Context, query string, args ...any) (wsql.Rows, error) {
	if t.isAborted() {
		return nil, errAborted
	}
	if !t.locked && strings.Contains(query, `"watermill_offsets_`) {
		// A read of a group's offset without the lock would hand out what
		// another consumer of the group is handing out.
		lock, ok := consumerLockOf(query)
		if !ok {
			return nil, errUnlockedOffsetRead
		}
		if _, err := t.tx.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, %d)`, consumerLockClass, lock)); err != nil {
			return nil, fmt.Errorf("consumer lock: %w", err)
		}
		t.locked = true
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// Commit commits and then runs the AfterCommit functions; it forgets the
// messages the commit acknowledged from the aborted-batch memory
// (abortedBy). After Abort it commits nothing and returns sql.ErrTxDone.
func (t *ConsumeTx) Commit() error {
	if t.isAborted() {
		return sql.ErrTxDone
	}
	if err := t.tx.Commit(); err != nil {
		return err
	}
	t.mu.Lock()
	after, handed := t.after, t.handed
	// The offset stands at the later of the subscriber's acknowledgement
	// and the last a handling wrote (an acknowledgement never moves it
	// back).
	done := max(slices.Index(handed, t.acked), slices.Index(handed, t.written))
	t.after, t.handed = nil, nil
	t.mu.Unlock()
	// The messages the commit acknowledged are done with: those handed
	// out up to the acknowledged one (a batch that stopped short of the
	// rest, at its ack deadline or the stop, hands them out again).
	if done >= 0 {
		abortedBy.forget(handed[:done+1])
	}
	for _, fn := range after {
		fn()
	}
	return nil
}

// Rollback rolls back; the AfterCommit functions are dropped.
func (t *ConsumeTx) Rollback() error {
	t.mu.Lock()
	t.after = nil
	aborted := t.aborted
	t.mu.Unlock()
	if aborted {
		return sql.ErrTxDone
	}
	return t.tx.Rollback()
}

// handedOut is the statement offsetsAdapter has Watermill run as it
// hands each message out; its one argument is that message's
// acknowledgement. ConsumeTx keeps it and sends nothing.
const handedOut = "-- keyward: message handed out"

func (a offsetsAdapter) ConsumedMessageQuery(p wsql.ConsumedMessageQueryParams) (wsql.Query, error) {
	ack, err := a.AckMessageQuery(wsql.AckMessageQueryParams{Topic: p.Topic, LastRow: p.Row, Rows: []wsql.Row{p.Row}, ConsumerGroup: p.ConsumerGroup})
	if err != nil {
		return wsql.Query{}, err
	}
	return wsql.Query{Query: handedOut, Args: []any{ack}}, nil
}

// consumeBeginner begins a SQL subscriber's transactions as ConsumeTx.
type consumeBeginner struct{ db *sqlx.DB }

var _ wsql.Beginner = consumeBeginner{}

func newConsumeBeginner(db *sql.DB) consumeBeginner {
	return consumeBeginner{db: sqlx.NewDb(db, "postgres")}
}

func (b consumeBeginner) BeginTx(ctx context.Context, opts *sql.TxOptions) (wsql.Tx, error) {
	tx, err := b.db.BeginTxx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &ConsumeTx{tx: tx}, nil
}

func (b consumeBeginner) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	return b.db.ExecContext(ctx, query, args...)
}

func (b consumeBeginner) QueryContext(ctx context.Context, query string, args ...any) (wsql.Rows, error) {
	return b.db.QueryContext(ctx, query, args...)
}
