package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/ports"
)

var _ ports.ExpiredLinkPurger = (*Links)(nil)

// DeleteExpired removes up to limit links that expired before cutoff.
func (r *Links) DeleteExpired(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := ext(ctx, r.db).ExecContext(ctx, `DELETE FROM delivery_links WHERE id IN (
		SELECT id FROM delivery_links WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`, cutoff.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired links: %w", translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired links: %w", err)
	}
	return int(n), nil
}
