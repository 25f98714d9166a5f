package messaging

// Helpers of the SQL queue's tests: messages written through keyward's
// publisher, read by a subscriber of a group, and the queue's tables read
// and changed as its consumers and time would.

import (
	"database/sql"
	"fmt"
	"log/slog"
	"strconv"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/domain"
)

// orderMessages returns n order.paid messages, of orders order-0 on.
func orderMessages(t testing.TB, n int) []*message.Message {
	t.Helper()
	msgs := make([]*message.Message, n)
	for i := range msgs {
		var err error
		if msgs[i], err = NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: fmt.Sprintf("order-%d", i), At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return msgs
}

// publishN writes n messages to topic, a transaction each, and returns
// their uuids, oldest first.
func publishN(t testing.TB, db *sql.DB, topic string, n int) []string {
	t.Helper()
	pub, err := NewSQLPublisher(db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, msg := range orderMessages(t, n) {
		if err := pub.Publish(topic, msg); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.UUID)
	}
	return ids
}

// remaining returns the uuids left in topic's table, in the queue's order.
func remaining(t *testing.T, db *sql.DB, topic string) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT uuid FROM `+messagesTable(topic)+` ORDER BY "transaction_id", "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// age makes the first n messages of topic older by d.
func age(t *testing.T, db *sql.DB, topic string, n int, d time.Duration) {
	t.Helper()
	table := messagesTable(topic)
	if _, err := db.ExecContext(t.Context(), `UPDATE `+table+` SET created_at = created_at - make_interval(secs => $1)
		WHERE ("transaction_id", "offset") IN (SELECT "transaction_id", "offset" FROM `+table+` ORDER BY 1, 2 LIMIT $2)`, d.Seconds(), n); err != nil {
		t.Fatal(err)
	}
}

// acknowledge moves group's offset on topic to the message with uuid, with
// the acknowledgement keyward's consumers send.
func acknowledge(t testing.TB, db *sql.DB, topic, group, uuid string) {
	t.Helper()
	ctx := t.Context()
	a := offsetsAdapter{}
	init, err := a.SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range init {
		if _, err := db.ExecContext(ctx, q.Query, q.Args...); err != nil {
			t.Fatal(err)
		}
	}
	var (
		tx     string
		offset int64
	)
	if err := db.QueryRowContext(ctx, `SELECT "transaction_id"::text, "offset" FROM `+messagesTable(topic)+` WHERE uuid = $1`, uuid).Scan(&tx, &offset); err != nil {
		t.Fatal(err)
	}
	txID, err := strconv.ParseInt(tx, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	q, err := a.AckMessageQuery(wsql.AckMessageQueryParams{Topic: topic, ConsumerGroup: group,
		LastRow: wsql.Row{Offset: offset, ExtraData: map[string]any{"transaction_id": wsql.XID8(txID)}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, q.Query, q.Args...); err != nil {
		t.Fatal(err)
	}
}

// subscribeOne subscribes group to topic, one message a batch, until the
// test ends.
func subscribeOne(t testing.TB, db *sql.DB, group, topic string) <-chan *message.Message {
	t.Helper()
	sub, err := NewSQLSubscriberGroup(db, slog.New(slog.DiscardHandler), group, SQLQueueOptions{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	ch, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// crossedMessages writes messages "a" and "b" to topic, which must hold
// none, in two transactions whose offsets cross their ids: a takes its id
// first and its offset last, so the queue hands a out first.
func crossedMessages(t *testing.T, db *sql.DB, topic string) {
	t.Helper()
	ctx := t.Context()
	publishN(t, db, topic, 1) // makes the table
	if _, err := db.ExecContext(ctx, `DELETE FROM `+messagesTable(topic)); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO ` + messagesTable(topic) + ` (uuid, payload, metadata, transaction_id) VALUES ($1, '{}', '{}', pg_current_xact_id())`
	a, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Rollback() }()
	if _, err := a.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, insert, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, insert, "a"); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := remaining(t, db, topic); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("queue order %v, want a before b", got)
	}
	var aOffset, bOffset int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT "offset" FROM `+messagesTable(topic)+` WHERE uuid = 'a'), (SELECT "offset" FROM `+messagesTable(topic)+` WHERE uuid = 'b')`).Scan(&aOffset, &bOffset); err != nil || aOffset < bOffset {
		t.Fatalf("offsets a %d, b %d (%v): want a's after b's", aOffset, bOffset, err)
	}
}
