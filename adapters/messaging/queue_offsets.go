package messaging

import (
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
)

// offsetsAdapter is Watermill's Postgres offsets adapter, telling the
// consume transaction which message it hands out (ConsumeTx.Ack), with
// two changes that keep a read of the queue from writing:
//
//   - The consumers of one topic and group take turns on a transaction
//     advisory lock (consumerLock), which the consume transaction takes in
//     a statement of its own before it reads, instead of Watermill's
//     FOR UPDATE of the group's offset row. A row lock writes: it gives the
//     transaction an id, a WAL record and a commit that waits for the disk,
//     so every read of the queue, even one that finds nothing, was a write
//     transaction. The lock is taken in a statement before the read so
//     that the read's snapshot, taken after the lock, sees what the
//     consumer before committed (the consume transaction is read
//     committed, queueSchema).
//   - An acknowledgement never moves a group's offset back (see
//     AckMessageQuery).
type offsetsAdapter struct {
	wsql.DefaultPostgreSQLOffsetsAdapter
}

// consumerLockClass is the first key of the consumers' advisory locks
// (the two-key space, apart from keyward's one-key locks).
const consumerLockClass = 0x6b77_7100

// lockMark opens the comment naming a consumer's lock in the statement
// that reads a group's offset (NextOffsetQuery); ConsumeTx takes the
// lock it names before the statement.
const lockMark = "/* keyward consumer lock "

// consumerLock is the advisory lock the consumers of group on the topic
// whose offsets are in table take turns on.
func consumerLock(table, group string) int32 {
	h := fnv.New32a()
	h.Write([]byte(table))
	h.Write([]byte{0})
	h.Write([]byte(group))
	return int32(h.Sum32())
}

// NextOffsetQuery reads the group's offset without locking its row; the
// comment names the consumer lock ConsumeTx takes first. A comment,
// because Watermill embeds this query in its own read (a WITH query of
// SelectQuery) and offers no step of its own before that read.
func (a offsetsAdapter) NextOffsetQuery(p wsql.NextOffsetQueryParams) (wsql.Query, error) {
	table := a.MessagesOffsetsTable(p.Topic)
	return wsql.Query{
		Query: fmt.Sprintf(`%s%d */ SELECT offset_acked, last_processed_transaction_id FROM %s WHERE consumer_group=$1`, lockMark, consumerLock(table, p.ConsumerGroup), table),
		Args:  []any{p.ConsumerGroup},
	}, nil
}

// AckMessageQuery sets the group's offset to the message, or leaves it
// where it is when it is past the message already: a handling that
// acknowledged its own message in its last unit of work (see
// postgres.Transactor) has moved it, and the subscriber's acknowledgement
// of an earlier message of the batch must not take it back. The row is
// updated either way (one row, as the consume transaction expects).
func (a offsetsAdapter) AckMessageQuery(p wsql.AckMessageQueryParams) (wsql.Query, error) {
	table := a.MessagesOffsetsTable(p.Topic)
	q := `INSERT INTO ` + table + ` (offset_acked, last_processed_transaction_id, consumer_group) VALUES ($1, $2, $3)
	ON CONFLICT (consumer_group) DO UPDATE SET
		offset_acked = CASE WHEN (` + table + `.last_processed_transaction_id, ` + table + `.offset_acked) < (excluded.last_processed_transaction_id, excluded.offset_acked)
			THEN excluded.offset_acked ELSE ` + table + `.offset_acked END,
		last_processed_transaction_id = GREATEST(` + table + `.last_processed_transaction_id, excluded.last_processed_transaction_id)`
	return wsql.Query{Query: q, Args: []any{p.LastRow.Offset, p.LastRow.ExtraData["transaction_id"], p.ConsumerGroup}}, nil
}

// queueSchema is Watermill's Postgres schema with read committed consume
// transactions instead of repeatable read ones: the read takes its
// snapshot after the consumer lock (offsetsAdapter), and a handling's
// units of work that join the transaction (postgres.InConsumeTx) see
// what committed since it began, as any other unit of work does.
type queueSchema struct {
	wsql.DefaultPostgreSQLSchema
}

func (queueSchema) SubscribeIsolationLevel() sql.IsolationLevel { return sql.LevelReadCommitted }

// errUnlockedOffsetRead refuses a read of a group's offset that names
// no consumer lock.
var errUnlockedOffsetRead = errors.New("a read of a consumer group's offset names no consumer lock: the schema is not offsetsAdapter's")

// consumerLockOf returns the consumer lock query names (lockMark), if it
// names one.
func consumerLockOf(query string) (int32, bool) {
	i := strings.Index(query, lockMark)
	if i < 0 {
		return 0, false
	}
	rest := query[i+len(lockMark):]
	end := strings.IndexByte(rest, ' ')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(rest[:end], 10, 32)
	return int32(n), err == nil
}
