package messaging

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// TopicLag is how far a consumer group is behind on one SQL topic.
type TopicLag struct {
	Topic string
	// Pending counts the messages not yet acknowledged, up to LagCountCap.
	Pending int
	// OldestAgeSeconds is the age of the oldest of them (0 when none).
	OldestAgeSeconds float64
}

// LagCountCap bounds the rows one topic's lag query counts.
const LagCountCap = 10000

// SQLQueueLag measures, in one query, the lag of consumer group group on
// each topic table of the SQL queue (the outbox, which the forwarder reads
// as the same group when a broker carries the events). Every topic's
// table must exist (InitializeTopics).
func SQLQueueLag(ctx context.Context, db *sql.DB, group string, topics []string) ([]TopicLag, error) {
	return queueLag(ctx, db, group, topics, nil)
}

// queueLag is SQLQueueLag where the topics in unread have no offsets
// table yet: no group has read them, and every message counts.
func queueLag(ctx context.Context, db *sql.DB, group string, topics []string, unread map[string]bool) ([]TopicLag, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	parts := make([]string, len(topics))
	for i, t := range topics {
		// Topic names are ours (event names and partition suffixes), never
		// input; the table names are quoted, which keeps the dots.
		// A message is unread when it comes after the group's position in
		// the queue's order (transaction, then offset), as the queue hands
		// messages out; a group with no offset yet is at the start.
		unreadCond := fmt.Sprintf(`("transaction_id", "offset") > (SELECT tx, o FROM (
	SELECT last_processed_transaction_id AS tx, coalesce(offset_acked, 0) AS o FROM %s WHERE consumer_group = (SELECT name FROM reader)
	UNION ALL SELECT '0'::xid8, 0) g ORDER BY tx DESC, o DESC LIMIT 1)`, offsetsTable(t))
		if unread[t] {
			unreadCond = "true"
		}
		parts[i] = fmt.Sprintf(`SELECT %d AS i, count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
FROM (SELECT created_at FROM %s WHERE %s LIMIT %d) p`,
			i, messagesTable(t), unreadCond, LagCountCap)
	}
	// The group is named once, so that a query whose topics all go
	// unread still uses its parameter.
	query := "WITH reader AS (SELECT $1::text AS name)\n" + strings.Join(parts, "\nUNION ALL\n")
	rows, err := db.QueryContext(ctx, query, group)
	if err != nil {
		return nil, fmt.Errorf("queue lag: %w", err)
	}
	defer rows.Close()
	out := make([]TopicLag, len(topics))
	for rows.Next() {
		var (
			i, n int
			age  float64
		)
		if err := rows.Scan(&i, &n, &age); err != nil {
			return nil, fmt.Errorf("queue lag: %w", err)
		}
		out[i] = TopicLag{Topic: topics[i], Pending: n, OldestAgeSeconds: age}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue lag: %w", err)
	}
	return out, nil
}

// UnreadTopics returns, of topics, those that hold messages group has not
// acknowledged, with how many (up to LagCountCap) and the oldest's age, in
// two statements. Unlike SQLQueueLag, it may be given topics that were
// never used: those without a table are passed over, and every message of
// one that no group has subscribed to (no offsets table) is unread.
func UnreadTopics(ctx context.Context, db *sql.DB, group string, topics []string) ([]TopicLag, error) {
	exists, err := existingTables(ctx, db)
	if err != nil {
		return nil, err
	}
	var present []string
	unsubscribed := map[string]bool{}
	for _, t := range topics {
		if exists[messagesTable(t)] {
			present = append(present, t)
			unsubscribed[t] = !exists[offsetsTable(t)]
		}
	}
	lags, err := queueLag(ctx, db, group, present, unsubscribed)
	if err != nil {
		return nil, err
	}
	var unread []TopicLag
	for _, l := range lags {
		if l.Pending > 0 {
			unread = append(unread, l)
		}
	}
	return unread, nil
}
