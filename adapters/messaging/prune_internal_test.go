package messaging

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"

	"github.com/keyward/keyward/domain"
)

// TestPruneSQLQueue: pruning deletes the messages older than the cut-off
// that every consumer group of the topic has acknowledged, and no other:
// not a newer one acknowledged, not an old one a group has not reached,
// and nothing of a topic no group has read.
func TestPruneSQLQueue(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()
	pub, err := NewSQLPublisher(db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const topic, unread = "order.paid.p0", "order.paid.p1"
	type position struct {
		tx     wsql.XID8
		offset int64
	}
	var at []position
	for _, tp := range []string{topic, topic, topic, unread} {
		msg, err := NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: "o", At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Publish(tp, msg); err != nil { // a transaction each
			t.Fatal(err)
		}
		var p position
		if err := db.QueryRowContext(ctx, `SELECT transaction_id, "offset" FROM "watermill_`+tp+`" WHERE uuid = $1`, msg.UUID).Scan(&p.tx, &p.offset); err != nil {
			t.Fatal(err)
		}
		at = append(at, p)
	}
	a := offsetsAdapter{}
	for _, tp := range []string{topic, unread} {
		qs, err := a.SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams{Topic: tp})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if _, err := db.ExecContext(ctx, q.Query, q.Args...); err != nil {
				t.Fatal(err)
			}
		}
	}
	ack := func(group string, p position) {
		t.Helper()
		q, err := a.AckMessageQuery(wsql.AckMessageQueryParams{Topic: topic, LastRow: wsql.Row{Offset: p.offset, ExtraData: map[string]any{"transaction_id": p.tx}}, ConsumerGroup: group})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, q.Query, q.Args...); err != nil {
			t.Fatal(err)
		}
	}
	// The first and the third messages, and the unread topic's, are old;
	// the second is new. One group has acknowledged the second.
	for _, q := range []string{
		`UPDATE "watermill_` + topic + `" SET created_at = created_at - interval '8 days' WHERE "offset" <> $1`,
		`UPDATE "watermill_` + unread + `" SET created_at = created_at - interval '8 days' WHERE "offset" <> $1`,
	} {
		if _, err := db.ExecContext(ctx, q, at[1].offset); err != nil {
			t.Fatal(err)
		}
	}
	ack("pipeline", at[1])
	left := func(tp string) []int64 {
		t.Helper()
		var offsets []int64
		rows, err := db.QueryContext(ctx, `SELECT "offset" FROM "watermill_`+tp+`" ORDER BY "offset"`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var o int64
			if err := rows.Scan(&o); err != nil {
				t.Fatal(err)
			}
			offsets = append(offsets, o)
		}
		return offsets
	}
	prune := func(want int) {
		t.Helper()
		n, err := PruneSQLQueue(ctx, db, []string{topic, unread}, time.Now().Add(-7*24*time.Hour), 100)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("pruned %d messages, want %d", n, want)
		}
	}

	// A second group that has read nothing yet holds everything.
	ack("notifications", position{tx: 0, offset: 0})
	prune(0)
	// Once it has acknowledged the third too, the first alone goes: the
	// second is new, the third not acknowledged by the first group.
	ack("notifications", at[2])
	prune(1)
	if got, want := left(topic), []int64{at[1].offset, at[2].offset}; !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	if got := left(unread); len(got) != 1 {
		t.Fatalf("the topic no group read lost messages: %v left", got)
	}
}
