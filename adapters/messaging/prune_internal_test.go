package messaging

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// TestPruneSQLQueue: a pass deletes the messages older than the retention
// that every group reading their topic has acknowledged, oldest first and
// in batches, and nothing else: not a message the slowest group has yet to
// acknowledge, not a young one, not a topic one of whose groups has no
// offset yet; a group that no longer reads a topic holds nothing back, and
// a topic no group reads loses its old messages alone. Missing tables are
// passed over.
func TestPruneSQLQueue(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	const week = 7 * 24 * time.Hour
	const (
		acked     = "order.paid.p0"            // two groups, one behind
		young     = "order.paid.p1"            // acknowledged, but young
		unread    = "order.placed.p0"          // one group has no offset yet
		retired   = "order.delivered.p0"       // no group reads it now
		abandoned = "order.payment_created.p0" // read by a group no longer reading it
	)
	ids := map[string][]string{}
	for _, topic := range []string{acked, young, unread, retired, abandoned} {
		ids[topic] = publishN(t, db, topic, 5)
	}
	for _, topic := range []string{acked, unread, retired, abandoned} {
		age(t, db, topic, 4, week+time.Hour) // the fifth stays young
	}
	acknowledge(t, db, acked, "fast", ids[acked][4])
	acknowledge(t, db, acked, "slow", ids[acked][2])
	acknowledge(t, db, young, "g", ids[young][4])
	acknowledge(t, db, unread, "g", ids[unread][4])
	acknowledge(t, db, abandoned, "g", ids[abandoned][4])
	acknowledge(t, db, abandoned, "old-group", ids[abandoned][0])
	acknowledge(t, db, retired, "old-group", ids[retired][0])

	topics := []QueueTopic{
		{Name: acked, Groups: []string{"fast", "slow"}},
		{Name: young, Groups: []string{"g"}},
		{Name: unread, Groups: []string{"g", "h"}},
		{Name: retired},
		{Name: abandoned, Groups: []string{"g"}},
		{Name: "order.refunded.p0", Groups: []string{"g"}}, // never written
		{Name: "order.expired.p0"},                         // never written
	}
	res, err := PruneSQLQueue(t.Context(), db, topics, week, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		acked:     ids[acked][3:], // "slow" has acknowledged 3 of the 4 old ones
		young:     ids[young],
		unread:    ids[unread],
		retired:   ids[retired][4:],
		abandoned: ids[abandoned][4:],
	}
	for topic, w := range want {
		if got := remaining(t, db, topic); !slices.Equal(got, w) {
			t.Errorf("%s: %d messages left %v, want %d %v", topic, len(got), got, len(w), w)
		}
	}
	if res.Deleted != 3+4+4 {
		t.Errorf("deleted %d, want 11", res.Deleted)
	}
	if !slices.Equal(res.Waiting, []string{unread}) {
		t.Errorf("waiting topics %v, want [%s]", res.Waiting, unread)
	}

	// Once the slow group catches up and the young message ages, the next
	// pass takes them; a second pass with nothing to do deletes nothing.
	acknowledge(t, db, acked, "slow", ids[acked][4])
	age(t, db, young, 5, week+time.Hour)
	if res, err = PruneSQLQueue(t.Context(), db, topics, week, 2); err != nil {
		t.Fatal(err)
	}
	if got := remaining(t, db, acked); !slices.Equal(got, ids[acked][4:]) {
		t.Errorf("%s after the slow group caught up: left %v, want %v", acked, got, ids[acked][4:])
	}
	if got := remaining(t, db, young); len(got) != 0 {
		t.Errorf("%s once old: left %v, want none", young, got)
	}
	if res.Deleted != 1+5 {
		t.Errorf("second pass deleted %d, want 6", res.Deleted)
	}
	if res, err = PruneSQLQueue(t.Context(), db, topics, week, 2); err != nil || res.Deleted != 0 {
		t.Errorf("a pass with nothing to do: deleted %d, %v", res.Deleted, err)
	}
}

// TestConsumerReadsOnAfterPrune: a consumer group whose acknowledged
// messages were deleted goes on reading where it was: the next message
// published is handed out, and none of the deleted ones again.
func TestConsumerReadsOnAfterPrune(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()
	const topic, group = "order.paid.p2", "g"
	first := publishN(t, db, topic, 3)
	ch := subscribeOne(t, db, group, topic)
	for _, id := range first {
		msg := testkit.Receive(t, ch, 30*time.Second, "message "+id)
		if msg.UUID != id {
			t.Fatalf("handed out %s, want %s", msg.UUID, id)
		}
		msg.Ack()
	}
	// The last acknowledgement commits with the consume transaction that
	// read it: prune once the group's offset is at the third message.
	testkit.Eventually(t, 30*time.Second, "the group's offset at its last message", func() bool {
		if _, err := PruneSQLQueue(ctx, db, []QueueTopic{{Name: topic, Groups: []string{group}}}, 0, 10); err != nil {
			t.Fatal(err)
		}
		return len(remaining(t, db, topic)) == 0
	})
	next := publishN(t, db, topic, 1)
	msg := testkit.Receive(t, ch, 30*time.Second, "the message published after the prune")
	if msg.UUID != next[0] {
		t.Fatalf("handed out %s after the prune, want %s", msg.UUID, next[0])
	}
	msg.Ack()
}

// TestPruneFollowsTheQueueOrder: the prune's bound is a position in the
// queue's order (transaction, then offset), not a transaction or an
// offset alone: of messages written in one transaction it keeps those
// after the group's offset, and of two transactions that took their
// offsets in the other order than their ids it keeps the one the group
// has yet to read, whose offset is lower.
func TestPruneFollowsTheQueueOrder(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()

	// Three messages in one transaction; the group read the second.
	const together = "order.paid.p0"
	pub, err := NewSQLPublisher(db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	msgs := orderMessages(t, 3)
	if err := pub.Publish(together, msgs...); err != nil {
		t.Fatal(err)
	}
	var txs int
	if err := db.QueryRowContext(ctx, `SELECT count(DISTINCT transaction_id) FROM `+messagesTable(together)).Scan(&txs); err != nil || txs != 1 {
		t.Fatalf("the three messages were written by %d transactions (%v), want one", txs, err)
	}
	acknowledge(t, db, together, "g", msgs[1].UUID)

	// Transaction a takes its id first and its offset last.
	const crossed = "order.paid.p1"
	crossedMessages(t, db, crossed)
	acknowledge(t, db, crossed, "g", "a")

	for _, topic := range []string{together, crossed} {
		age(t, db, topic, 3, time.Hour)
	}
	res, err := PruneSQLQueue(ctx, db, []QueueTopic{{Name: together, Groups: []string{"g"}}, {Name: crossed, Groups: []string{"g"}}}, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := remaining(t, db, together); !slices.Equal(got, []string{msgs[2].UUID}) {
		t.Errorf("%s: left %v, want the third message alone (%s)", together, got, msgs[2].UUID)
	}
	if got := remaining(t, db, crossed); !slices.Equal(got, []string{"b"}) {
		t.Errorf("%s: left %v, want b, which the group has yet to read", crossed, got)
	}
	if res.Deleted != 3 {
		t.Errorf("deleted %d, want 3", res.Deleted)
	}
}

// TestPruneGoesOnPastAFailingTopic: a topic that cannot be pruned (here
// its offsets table is not one) keeps no other from being pruned, and its
// error comes back naming it.
func TestPruneGoesOnPastAFailingTopic(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	const broken, fine = "order.failed.p0", "order.paid.p3"
	publishN(t, db, broken, 1)
	age(t, db, broken, 1, time.Hour)
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE `+offsetsTable(broken)+` (x int)`); err != nil {
		t.Fatal(err)
	}
	ids := publishN(t, db, fine, 2)
	acknowledge(t, db, fine, "g", ids[1])
	age(t, db, fine, 2, time.Hour)
	res, err := PruneSQLQueue(t.Context(), db, []QueueTopic{{Name: broken, Groups: []string{"g"}}, {Name: fine, Groups: []string{"g"}}}, time.Minute, 10)
	if err == nil || !strings.Contains(err.Error(), broken) {
		t.Errorf("error %v, want one naming %s", err, broken)
	}
	if got := remaining(t, db, fine); len(got) != 0 || res.Deleted != 2 {
		t.Errorf("%s after a failing topic: left %v, deleted %d; want all 2 deleted", fine, got, res.Deleted)
	}
}

// BenchmarkPruneSQLQueue deletes b.N acknowledged, old messages of one
// topic (written 100 a transaction) in one pass, and reports the time a
// message and a batch of queuePruneBatch took: a batch's delete is as
// long as the queue's consumers do not see newer messages.
//
//	go test ./adapters/messaging -run '^$' -bench BenchmarkPruneSQLQueue -benchtime 50000x
func BenchmarkPruneSQLQueue(b *testing.B) {
	const batch = 1000
	_, pool := pgtest.NewDatabase(b)
	db := pool.DB
	ctx := b.Context()
	const topic = "order.paid.p0"
	table := messagesTable(topic)
	pub, err := NewSQLPublisher(db, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	msg, err := NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: "order", At: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	if err := pub.Publish(topic, msg); err != nil { // makes the table
		b.Fatal(err)
	}
	for left := b.N - 1; left > 0; left -= 100 {
		if _, err := db.ExecContext(ctx, `INSERT INTO `+table+` (uuid, payload, metadata, transaction_id, created_at)
			SELECT gen_random_uuid()::text, $2, '{}', pg_current_xact_id(), LOCALTIMESTAMP - interval '8 days' FROM generate_series(1, $1)`, min(left, 100), msg.Payload); err != nil {
			b.Fatal(err)
		}
	}
	var last string
	if err := db.QueryRowContext(ctx, `SELECT uuid FROM `+table+` ORDER BY "transaction_id" DESC, "offset" DESC LIMIT 1`).Scan(&last); err != nil {
		b.Fatal(err)
	}
	acknowledge(b, db, topic, "g", last)
	if _, err := db.ExecContext(ctx, `UPDATE `+table+` SET created_at = LOCALTIMESTAMP - interval '8 days'`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE `+table); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := PruneSQLQueue(ctx, db, []QueueTopic{{Name: topic, Groups: []string{"g"}}}, 7*24*time.Hour, batch)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Deleted != b.N {
		b.Fatalf("deleted %d of %d", res.Deleted, b.N)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)*batch/1000, "ms/batch")
}

// TestIdlePrunePassWritesNothing: a topic with nothing to delete (empty,
// young at its head, or old at a head its group has yet to read) costs
// the pass reads alone: with another transaction holding its table in
// SHARE mode, which lets reads through and keeps any DELETE waiting, the
// pass ends at once.
func TestIdlePrunePassWritesNothing(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	const empty, young, unread = "order.paid.p0", "order.paid.p1", "order.paid.p2"
	publishN(t, db, empty, 1)
	if _, err := db.ExecContext(t.Context(), `DELETE FROM `+messagesTable(empty)); err != nil {
		t.Fatal(err)
	}
	ids := publishN(t, db, young, 2)
	acknowledge(t, db, young, "g", ids[1])
	ids = publishN(t, db, unread, 2)
	age(t, db, unread, 2, time.Hour)
	acknowledge(t, db, unread, "g", ids[0])
	if _, err := db.ExecContext(t.Context(), `UPDATE `+offsetsTable(unread)+` SET offset_acked = 0, last_processed_transaction_id = '0'`); err != nil {
		t.Fatal(err)
	}
	holder, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Rollback() }()
	for _, topic := range []string{empty, young, unread} {
		if _, err := holder.ExecContext(t.Context(), `LOCK TABLE `+messagesTable(topic)+` IN SHARE MODE`); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	topics := []QueueTopic{{Name: empty, Groups: []string{"g"}}, {Name: young, Groups: []string{"g"}}, {Name: unread, Groups: []string{"g"}}}
	if res, err := PruneSQLQueue(ctx, db, topics, time.Minute, 10); err != nil || res.Deleted != 0 || len(res.Waiting) != 0 {
		t.Fatalf("an idle pass: deleted %d, waiting %v, %v (a delete waits for the lock)", res.Deleted, res.Waiting, err)
	}
	// Once the group has read the old messages, the next pass deletes them.
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	acknowledge(t, db, unread, "g", ids[1])
	if res, err := PruneSQLQueue(t.Context(), db, topics, time.Minute, 10); err != nil || res.Deleted != 2 {
		t.Fatalf("once read: deleted %d, %v; want the 2 old messages", res.Deleted, err)
	}
}

// TestPruneLooksPastAYoungFirstMessage: a message's age is its
// transaction's start and its place in the queue its transaction's id, so
// an old message may come after a younger one; a pass still deletes it.
func TestPruneLooksPastAYoungFirstMessage(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	const topic = "order.paid.p0"
	ids := publishN(t, db, topic, 2)
	acknowledge(t, db, topic, "g", ids[1])
	if _, err := db.ExecContext(t.Context(), `UPDATE `+messagesTable(topic)+` SET created_at = created_at - interval '1 hour' WHERE uuid = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	res, err := PruneSQLQueue(t.Context(), db, []QueueTopic{{Name: topic, Groups: []string{"g"}}}, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := remaining(t, db, topic); res.Deleted != 1 || !slices.Equal(got, ids[:1]) {
		t.Errorf("deleted %d, left %v; want the old second message gone and the young first one left", res.Deleted, got)
	}
}
