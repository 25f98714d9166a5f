package messaging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// QueueTopic is a topic of the SQL queue and the consumer groups that read
// it now. A topic no group reads any more (an event an earlier version
// queued) has none: its messages go by age alone.
type QueueTopic struct {
	Name   string
	Groups []string
}

// PruneResult is what a PruneSQLQueue pass did.
type PruneResult struct {
	Deleted int      // messages deleted
	Waiting []string // topics kept whole: a group that reads them has not subscribed yet
}

// PruneSQLQueue deletes the messages of the SQL queue that are older than
// retention and that every group reading their topic has acknowledged;
// those of a topic no group reads go once they are older than retention.
// It deletes the oldest first, batch at a time, each batch a statement of
// its own: a delete holds back what every consumer of the queue sees while
// it runs (they read only what committed before the oldest transaction
// still running), so it must be short. A message some group has not
// acknowledged stays whatever its age, and so does every message of a
// topic one of whose groups has no offset yet (it would read from the
// start). A group that read a topic in an earlier version and no longer
// does (its offset row is left behind) holds nothing back. Tables that do
// not exist are passed over; the dead letters are never among the topics.
//
// Run it in one process at a time: two at once do each other's work.
func PruneSQLQueue(ctx context.Context, db *sql.DB, topics []QueueTopic, retention time.Duration, batch int) (PruneResult, error) {
	var res PruneResult
	if batch <= 0 {
		return res, fmt.Errorf("prune queue: batch must be positive, not %d", batch)
	}
	exists, err := existingTables(ctx, db)
	if err != nil {
		return res, err
	}
	// A topic that fails is passed over, so that it keeps no other from
	// being pruned; the errors come back together.
	var errs []error
	for _, t := range topics {
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
		if !exists[messagesTable(t.Name)] {
			continue
		}
		// A topic none of whose first batch of messages is old, or that
		// holds none, has nothing to delete yet (its first delete would
		// find nothing): one read, and no write.
		head, old, err := firstMessages(ctx, db, t.Name, retention, batch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !old {
			continue
		}
		var upTo *queuePosition
		if len(t.Groups) > 0 {
			if !exists[offsetsTable(t.Name)] {
				res.Waiting = append(res.Waiting, t.Name)
				continue
			}
			p, ok, err := slowestGroup(ctx, db, t)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !ok {
				res.Waiting = append(res.Waiting, t.Name)
				continue
			}
			if p.before(head) {
				continue // the first message is still to be read
			}
			upTo = &p
		}
		n, err := pruneTopic(ctx, db, t.Name, upTo, retention, batch)
		res.Deleted += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// messagesTable and offsetsTable name a topic's tables, quoted, as the
// queue's schema and offsets adapter do.
func messagesTable(topic string) string { return queueSchema{}.MessagesTable(topic) }
func offsetsTable(topic string) string  { return offsetsAdapter{}.MessagesOffsetsTable(topic) }

// existingTables returns which of the queue's tables exist, by their
// quoted names, in one statement: the tables named as the queue names them
// that the session's search path shows. It lists them rather than looking
// up each of topics (there are many more topics than tables).
func existingTables(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT format('"%s"', relname) FROM pg_class
WHERE relkind IN ('r', 'p') AND starts_with(relname, 'watermill_') AND pg_table_is_visible(oid)`)
	if err != nil {
		return nil, fmt.Errorf("queue tables: %w", err)
	}
	defer rows.Close()
	exists := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("queue tables: %w", err)
		}
		exists[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue tables: %w", err)
	}
	return exists, nil
}

// queuePosition is a place in a topic, in the order the queue hands its
// messages out: transaction, then offset.
type queuePosition struct {
	tx     uint64 // xid8
	offset int64
}

// parseXID8 reads a transaction id as Postgres writes an xid8.
func parseXID8(s string) (uint64, error) {
	tx, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("transaction %q: %w", s, err)
	}
	return tx, nil
}

// olderThan is the condition that a message is older than the retention
// in the parameter param (seconds), on the server's clock (see pruneTopic).
func olderThan(param string) string {
	return `created_at < LOCALTIMESTAMP - make_interval(secs => ` + param + `)`
}

func (p queuePosition) before(q queuePosition) bool {
	return p.tx < q.tx || p.tx == q.tx && p.offset < q.offset
}

// firstMessages returns the position of topic's first message in the
// queue's order and whether any of its first batch messages is older than
// retention (false too when the topic holds none). Ages are close to the
// queue's order but not the same (a message's age is its transaction's
// start, its place the transaction's id, taken at its first write), so
// the first message alone would not do.
func firstMessages(ctx context.Context, db *sql.DB, topic string, retention time.Duration, batch int) (queuePosition, bool, error) {
	var (
		tx  string
		p   queuePosition
		old bool
	)
	err := db.QueryRowContext(ctx, `SELECT "transaction_id"::text, "offset", bool_or(old) OVER () FROM (
	SELECT "transaction_id", "offset", `+olderThan("$1")+` AS old FROM `+messagesTable(topic)+`
	ORDER BY "transaction_id", "offset" LIMIT $2) f
ORDER BY "transaction_id", "offset" LIMIT 1`, retention.Seconds(), batch).Scan(&tx, &p.offset, &old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return queuePosition{}, false, nil
	case err != nil:
		return queuePosition{}, false, fmt.Errorf("prune queue topic %s: %w", topic, err)
	}
	if p.tx, err = parseXID8(tx); err != nil {
		return queuePosition{}, false, fmt.Errorf("prune queue topic %s: %w", topic, err)
	}
	return p, old, nil
}

// slowestGroup returns the position of the group of t that is furthest
// behind; false when one of them has no offset (it has not subscribed).
func slowestGroup(ctx context.Context, db *sql.DB, t QueueTopic) (queuePosition, bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT consumer_group, last_processed_transaction_id::text, coalesce(offset_acked, 0) FROM `+offsetsTable(t.Name)+
		` WHERE consumer_group = ANY($1)`, pq.StringArray(t.Groups))
	if err != nil {
		return queuePosition{}, false, fmt.Errorf("prune queue topic %s: %w", t.Name, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	var slowest queuePosition
	for rows.Next() {
		var (
			group, tx string
			p         queuePosition
		)
		if err := rows.Scan(&group, &tx, &p.offset); err != nil {
			return queuePosition{}, false, fmt.Errorf("prune queue topic %s: %w", t.Name, err)
		}
		if p.tx, err = parseXID8(tx); err != nil {
			return queuePosition{}, false, fmt.Errorf("prune queue topic %s: group %s: %w", t.Name, group, err)
		}
		if len(seen) == 0 || p.before(slowest) {
			slowest = p
		}
		seen[group] = true
	}
	if err := rows.Err(); err != nil {
		return queuePosition{}, false, fmt.Errorf("prune queue topic %s: %w", t.Name, err)
	}
	for _, g := range t.Groups {
		if !seen[g] {
			return queuePosition{}, false, nil
		}
	}
	return slowest, true, nil
}

// pruneTopic deletes topic's messages older than retention, up to upTo
// (nil: any), batch at a time, oldest first. A batch that deletes fewer
// than batch ends the pass, so that no pass scans more than it deletes
// and a batch: the rest are unacknowledged or young (the queue's order is
// its transactions', close to their age) and wait for a later pass. Ages
// are read on the server's clock, as the messages' are written: their
// created_at is a timestamp without time zone in the writer's session
// TimeZone, so keyward's processes share one (the database's, unless PGTZ
// or the connection URL sets another); a difference shifts when messages
// go, never which.
func pruneTopic(ctx context.Context, db *sql.DB, topic string, upTo *queuePosition, retention time.Duration, batch int) (int, error) {
	table := messagesTable(topic)
	args := []any{batch, retention.Seconds()}
	acknowledged := ""
	if upTo != nil {
		acknowledged = `WHERE ("transaction_id", "offset") <= ($3::text::xid8, $4::bigint)`
		args = append(args, strconv.FormatUint(upTo.tx, 10), upTo.offset)
	}
	// Topic names are keyward's own (event names and partition suffixes),
	// never input; the table names are quoted, which keeps their dots.
	q := strings.Join([]string{
		`DELETE FROM ` + table + ` WHERE ("transaction_id", "offset") IN (`,
		`SELECT "transaction_id", "offset" FROM ` + table + ` ` + acknowledged,
		`ORDER BY "transaction_id", "offset" LIMIT $1)`,
		`AND ` + olderThan("$2"),
	}, "\n")
	total := 0
	for ctx.Err() == nil {
		r, err := db.ExecContext(ctx, q, args...)
		if err != nil {
			return total, fmt.Errorf("prune queue topic %s: %w", topic, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune queue topic %s: %w", topic, err)
		}
		total += int(n)
		if int(n) < batch {
			break
		}
	}
	return total, ctx.Err()
}
