package messaging

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/ports"
)

// TestIsAckMatchesWatermillsAcknowledgement pins isAck to the text of the
// Watermill version in go.mod: its acknowledgement is recognised (and
// batched, or not sent again), the offsets row it creates on subscribing
// is not (it may change no row).
func TestIsAckMatchesWatermillsAcknowledgement(t *testing.T) {
	t.Parallel()
	a := offsetsAdapter{}
	ack, err := a.AckMessageQuery(wsql.AckMessageQueryParams{Topic: "order.paid.p0", LastRow: wsql.Row{Offset: 7, ExtraData: map[string]any{"transaction_id": wsql.XID8(9)}}, ConsumerGroup: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if !isAck(ack.Query) {
		t.Fatalf("Watermill's acknowledgement is not recognised: %s", ack.Query)
	}
	before, err := a.BeforeSubscribingQueries(wsql.BeforeSubscribingQueriesParams{Topic: "order.paid.p0", ConsumerGroup: "g"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range before {
		if isAck(q.Query) {
			t.Errorf("a subscribing query is taken for an acknowledgement: %s", q.Query)
		}
	}
}

// TestAbortedConsumeTxAnswersNothing: once given up, a consume transaction
// answers every statement with ports.ErrConsumeAborted and its end with
// sql.ErrTxDone (Watermill then reads the batch again), and the message
// it was handing out is handed out eagerly next time, until a batch that
// handed it out commits its acknowledgement (of it or of a later one).
func TestAbortedConsumeTxAnswersNothing(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()
	b := newConsumeBeginner(db)
	if _, err := db.ExecContext(ctx, `CREATE TABLE "watermill_offsets_x" (offset_acked bigint, last_processed_transaction_id xid8, consumer_group text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	ackOf := func(offset int64) wsql.Query {
		return wsql.Query{Query: `INSERT INTO "watermill_offsets_x" (offset_acked, last_processed_transaction_id, consumer_group) VALUES ($1, $2, $3)
			ON CONFLICT (consumer_group) DO UPDATE SET offset_acked = excluded.offset_acked`, Args: []any{offset, wsql.XID8(7), "g"}}
	}
	ack := ackOf(42)
	handOut := func(acks ...wsql.Query) *ConsumeTx {
		t.Helper()
		tx, err := b.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := tx.(*ConsumeTx)
		for _, a := range append([]wsql.Query{ack}, acks...) {
			if _, err := c.ExecContext(ctx, handedOut, a); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	c := handOut()
	if c.Eager() {
		t.Fatal("a message that aborted nothing is handed out eagerly")
	}
	ran := false
	c.AfterCommit(func() { ran = true })
	c.Abort()
	if _, err := c.ExecContext(ctx, `SELECT 1`); !errors.Is(err, ports.ErrConsumeAborted) {
		t.Errorf("exec after the abort: %v", err)
	}
	if _, err := c.QueryContext(ctx, `SELECT 1`); !errors.Is(err, ports.ErrConsumeAborted) {
		t.Errorf("query after the abort: %v", err)
	}
	if _, err := c.ExecContext(ctx, handedOut, ack); !errors.Is(err, ports.ErrConsumeAborted) {
		t.Errorf("handing out after the abort: %v", err)
	}
	if err := c.Commit(); !errors.Is(err, sql.ErrTxDone) || ran {
		t.Errorf("commit after the abort: %v (after-commit ran: %v)", err, ran)
	}
	if err := c.Rollback(); !errors.Is(err, sql.ErrTxDone) {
		t.Errorf("rollback after the abort: %v", err)
	}
	// Read again, then again after a batch that rolled back: eager both
	// times; forgotten once a batch handing it out commits.
	for range 2 {
		c = handOut()
		if !c.Eager() {
			t.Fatal("the message that aborted a batch is not handed out eagerly")
		}
		if err := c.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	// A batch that commits without acknowledging it (it stopped at an
	// earlier message, or acknowledged none) leaves it remembered.
	c = handOut()
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	if c = handOut(); !c.Eager() {
		t.Fatal("a batch that never acknowledged the message made it forgotten")
	}
	// One that acknowledges a later message forgets it.
	later := ackOf(43)
	if _, err := c.ExecContext(ctx, handedOut, later); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, later.Query, later.Args...); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	if c = handOut(); c.Eager() {
		t.Fatal("the message is still handed out eagerly after its batch acknowledged past it")
	}
	_ = c.Rollback()
	// One whose handling of a later message acknowledged it (Acked, as a
	// concluding unit of work does in a transaction of its own) forgets
	// that message too, though the subscriber acknowledged an earlier one:
	// the offset stands at the later (it never moves back).
	concluded := ackOf(44)
	abortedBy.remember(ackKey(concluded))
	c = handOut(concluded)
	c.Acked()
	if _, err := c.ExecContext(ctx, ack.Query, ack.Args...); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(); err != nil {
		t.Fatal(err)
	}
	if abortedBy.has(ackKey(concluded)) {
		t.Fatal("a message acknowledged by its handling is remembered after its batch committed")
	}
}

// TestBackoffRereadsAGivenUpBatchAtOnce: a subscriber whose batch a
// handling gave up (the error Watermill wraps around the aborted consume
// transaction's) reads again at once, polling or woken; any other error
// waits the retry interval.
func TestBackoffRereadsAGivenUpBatchAtOnce(t *testing.T) {
	t.Parallel()
	givenUp := fmt.Errorf("could not process message: %w", fmt.Errorf("cannot send consumed query: %w", errAborted))
	for name, b := range map[string]wsql.BackoffManager{
		"polling": quietStopBackoff{BackoffManager: wsql.NewDefaultBackoffManager(time.Second, time.Second), retry: time.Second},
		"woken":   &wakeBackoff{poll: time.Second, retry: time.Second, closing: make(chan struct{}), topics: map[string]*topicWait{}},
	} {
		if got := b.HandleError(watermill.NopLogger{}, false, givenUp); got != abortedReread {
			t.Errorf("%s: a given-up batch is read again after %s, want %s", name, got, abortedReread)
		}
		if got := b.HandleError(watermill.NopLogger{}, false, errors.New("connection refused")); got != time.Second {
			t.Errorf("%s: another error waits %s, want the retry interval", name, got)
		}
	}
}

// testDB is a new migrated database on the test server (pgtest's pool,
// closed with t), and its URL.
func testDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	url, db := pgtest.NewDatabase(t)
	return db.DB, url
}

// TestAcknowledgementNeverMovesTheOffsetBack: an acknowledgement moves a
// group's offset forward, in Watermill's order (transaction, then
// offset), and leaves it where it is when it names a message at or
// before it; it changes the row either way, as the consume transaction
// expects of it.
func TestAcknowledgementNeverMovesTheOffsetBack(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()
	a := offsetsAdapter{}
	init, err := a.SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams{Topic: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range init {
		if _, err := db.ExecContext(ctx, q.Query, q.Args...); err != nil {
			t.Fatal(err)
		}
	}
	ack := func(txID, offset int64) {
		t.Helper()
		q, err := a.AckMessageQuery(wsql.AckMessageQueryParams{Topic: "x", LastRow: wsql.Row{Offset: offset, ExtraData: map[string]any{"transaction_id": wsql.XID8(txID)}}, ConsumerGroup: "g"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := db.ExecContext(ctx, q.Query, q.Args...)
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("the acknowledgement of %d/%d changed %d rows, want 1", txID, offset, n)
		}
	}
	at := func() string {
		t.Helper()
		var s string
		if err := db.QueryRowContext(ctx, `SELECT last_processed_transaction_id || '/' || offset_acked FROM "watermill_offsets_x" WHERE consumer_group = 'g'`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, step := range []struct {
		txID, offset int64
		want         string
	}{
		{10, 5, "10/5"}, // the first
		{10, 7, "10/7"}, // a later message of the same transaction
		{10, 6, "10/7"}, // an earlier one: not back
		{9, 9, "10/7"},  // an earlier transaction, a larger offset: not back
		{11, 1, "11/1"}, // a later transaction, a smaller offset: forward
		{11, 1, "11/1"}, // the same again
	} {
		ack(step.txID, step.offset)
		if got := at(); got != step.want {
			t.Fatalf("after acknowledging %d/%d the offset is %s, want %s", step.txID, step.offset, got, step.want)
		}
	}
}
