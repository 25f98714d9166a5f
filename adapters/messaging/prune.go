package messaging

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// PruneSQLQueue deletes from each topic's table of the SQL queue the
// messages created before before that every consumer group reading the
// topic has acknowledged, at most limit a topic, oldest first, and
// returns how many it deleted. A message some group has not acknowledged
// stays whatever its age, and so does every message of a topic no group
// has read yet (no offset recorded). The dead letters are not among the
// topics: they wait for an operator. The tables must exist
// (InitializeTopics).
func PruneSQLQueue(ctx context.Context, db *sql.DB, topics []string, before time.Time, limit int) (int, error) {
	total := 0
	for _, t := range topics {
		// Topic names are ours (event names and partition suffixes), never
		// input; quoting keeps the dots.
		msgs, offsets := quoteIdent("watermill_"+t), quoteIdent("watermill_offsets_"+t)
		res, err := db.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %[1]s WHERE ("transaction_id", "offset") IN (
	SELECT m."transaction_id", m."offset" FROM %[1]s m
	WHERE m.created_at < $1::timestamptz
		AND EXISTS (SELECT 1 FROM %[2]s)
		AND (m."transaction_id", m."offset") <= ALL (SELECT last_processed_transaction_id, offset_acked FROM %[2]s)
	ORDER BY m."transaction_id", m."offset"
	LIMIT %[3]d)`, msgs, offsets, limit), before)
		if err != nil {
			return total, fmt.Errorf("prune queue topic %s: %w", t, err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}
