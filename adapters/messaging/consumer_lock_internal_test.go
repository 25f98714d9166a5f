package messaging

import (
	"errors"
	"testing"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/internal/testkit"
)

// TestQueueReadWritesNothing: a SQL subscriber reading a message holds
// its group's consumer lock and writes nothing: its transaction has no
// id (a row lock would give it one, with a WAL record and a commit that
// waits for the disk) and the group's offset row is not locked. A second
// subscriber of the group waits on the lock, and once the first
// acknowledged its message the next one handed out is the second
// message, not the first again.
func TestQueueReadWritesNothing(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()
	const topic, group = "order.paid.p0", "g"
	ids := publishN(t, db, topic, 2)
	subscribe := func() <-chan *message.Message { return subscribeOne(t, db, group, topic) }
	// holders counts the backends of this database holding (granted) or
	// waiting for a consumer lock, and those of the holders with a
	// transaction id.
	holders := func(granted bool) (n, withID int) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT count(*), count(a.backend_xid) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objsubid = 2 AND l.granted = $2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`, consumerLockClass, granted).Scan(&n, &withID); err != nil {
			t.Fatal(err)
		}
		return n, withID
	}

	ch1 := subscribe()
	first := testkit.Receive(t, ch1, 30*time.Second, "the first message")
	if first.UUID != ids[0] {
		t.Fatalf("handed out %s first, want %s", first.UUID, ids[0])
	}
	if n, withID := holders(true); n != 1 || withID != 0 {
		t.Fatalf("while a message is handled: %d holders of the consumer lock, %d of them with a transaction id; want 1 and none", n, withID)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var acked int64
	err = tx.QueryRowContext(ctx, `SELECT offset_acked FROM "watermill_offsets_`+topic+`" WHERE consumer_group = $1 FOR UPDATE NOWAIT`, group).Scan(&acked)
	_ = tx.Rollback()
	if err != nil {
		t.Fatalf("the group's offset row is locked while a message is handled: %v", err)
	}

	ch2 := subscribe()
	testkit.Eventually(t, 30*time.Second, "the second subscriber waiting on the consumer lock", func() bool {
		n, _ := holders(false)
		return n == 1
	})
	first.Ack()
	var next *message.Message
	select {
	case next = <-ch1:
	case next = <-ch2:
	case <-time.After(30 * time.Second):
		t.Fatal("the second message was not handed out")
	}
	if next.UUID != ids[1] {
		t.Fatalf("handed out %s after the first was acknowledged, want the second, %s", next.UUID, ids[1])
	}
	next.Ack()
}

// TestUnlockedOffsetReadIsRefused: a read of a group's offset that names
// no consumer lock (another offsets adapter's) is refused rather than run
// unlocked, where two consumers of the group would hand out the same
// messages.
func TestUnlockedOffsetReadIsRefused(t *testing.T) {
	t.Parallel()
	db, _ := testDB(t)
	ctx := t.Context()
	init, err := offsetsAdapter{}.SchemaInitializingQueries(wsql.OffsetsSchemaInitializingQueriesParams{Topic: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range init { // the table exists: only the refusal can fail the read
		if _, err := db.ExecContext(ctx, q.Query, q.Args...); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := newConsumeBeginner(db).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.QueryContext(ctx, `SELECT offset_acked FROM "watermill_offsets_x" WHERE consumer_group = $1 FOR UPDATE`, "g"); !errors.Is(err, errUnlockedOffsetRead) {
		t.Fatalf("an offset read naming no consumer lock: %v, want it refused", err)
	}
	if lock, ok := consumerLockOf(lockMark + "-12 */ SELECT 1"); !ok || lock != -12 {
		t.Fatalf("consumerLockOf read %d, %v; want -12, true", lock, ok)
	}
	if _, ok := consumerLockOf(lockMark + "x */"); ok {
		t.Fatal("consumerLockOf read a lock from a malformed mark")
	}
}
