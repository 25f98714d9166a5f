package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
)

// CountByStatus returns how many orders are in each status: one GROUP BY on
// the status index, a row per status. A status this build does not know
// (a newer migration's) is an error rather than a silently missing series.
func (r *Orders) CountByStatus(ctx context.Context) (map[domain.OrderStatus]int, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := r.db.SelectContext(ctx, &rows, `SELECT status, count(*) AS n FROM orders GROUP BY status`); err != nil {
		return nil, fmt.Errorf("count orders by status: %w", translate(err))
	}
	out := make(map[domain.OrderStatus]int, len(rows))
	for _, row := range rows {
		st, err := domain.ParseOrderStatus(row.Status)
		if err != nil {
			return nil, fmt.Errorf("count orders by status: %w", err)
		}
		out[st] = row.N
	}
	return out, nil
}

// CountAwaitingRelease returns how many fulfilling orders wait only for
// pre-orders' release: one count over the fulfilling orders (the status
// index), looking at their items by order.
func (r *Orders) CountAwaitingRelease(ctx context.Context) (int, error) {
	var n int
	err := r.db.GetContext(ctx, &n, `SELECT count(*) FROM orders o WHERE o.status = 'fulfilling'
		AND EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.status = 'awaiting_release')
		AND NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id AND i.status NOT IN ('awaiting_release', 'sealed'))`)
	if err != nil {
		return 0, fmt.Errorf("count orders awaiting a release: %w", translate(err))
	}
	return n, nil
}

// AuditBacklog returns how many audit records are staged but not yet
// chained, and the age in seconds of the oldest of them (0 when none): the
// sealer is behind when these grow.
func AuditBacklog(ctx context.Context, db *sqlx.DB) (pending int, oldestAge float64, err error) {
	err = db.QueryRowContext(ctx, `SELECT count(*), coalesce(extract(epoch FROM now() - min(at)), 0)::float8 FROM audit_pending`).
		Scan(&pending, &oldestAge)
	if err != nil {
		return 0, 0, fmt.Errorf("audit backlog: %w", translate(err))
	}
	return pending, max(oldestAge, 0), nil
}

// AuditQuarantined returns how many staged audit records the sealer
// refused (audit_quarantine): any means someone wrote around the audit log.
func AuditQuarantined(ctx context.Context, db *sqlx.DB) (int, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_quarantine`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit quarantine: %w", translate(err))
	}
	return n, nil
}

// CountItemsBought returns how many items have a purchase recorded at each
// supplier: one GROUP BY over the items.
func (r *Orders) CountItemsBought(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Supplier string `db:"bought_from"`
		N        int    `db:"n"`
	}
	if err := r.db.SelectContext(ctx, &rows, `SELECT bought_from, count(*) AS n FROM order_items
		WHERE bought_from <> '' AND supplier_order_id <> '' GROUP BY bought_from`); err != nil {
		return nil, fmt.Errorf("count items bought: %w", translate(err))
	}
	out := make(map[string]int, len(rows))
	for _, row := range rows {
		out[row.Supplier] = row.N
	}
	return out, nil
}
