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
	if len(topics) == 0 {
		return nil, nil
	}
	parts := make([]string, len(topics))
	for i, t := range topics {
		// Topic names are ours (event names and partition suffixes), never
		// input; the table names are quoted, which keeps the dots.
		msgs, offsets := messagesTable(t), offsetsTable(t)
		parts[i] = fmt.Sprintf(`SELECT %d AS i, count(*) AS n, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
FROM (SELECT created_at FROM %s WHERE "offset" > coalesce((SELECT max(offset_acked) FROM %s WHERE consumer_group = $1), 0) LIMIT %d) p`,
			i, msgs, offsets, LagCountCap)
	}
	rows, err := db.QueryContext(ctx, strings.Join(parts, "\nUNION ALL\n"), group)
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
