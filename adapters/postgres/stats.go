package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// OrderCounts returns how many orders are in each status: one GROUP BY on
// the status index, a row per status.
func OrderCounts(ctx context.Context, db *sqlx.DB) (map[string]int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM orders GROUP BY status`); err != nil {
		return nil, fmt.Errorf("count orders by status: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
