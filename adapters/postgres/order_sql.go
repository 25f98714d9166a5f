package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/domain"
)

const orderColumns = `id, email, access_token_hash, total_amount, currency, payment_provider, payment_id,
	pay_address, pay_amount, pay_currency, payment_status, actually_paid, status, version, created_at, updated_at,
	delivery_claim, delivery_claimed_at, payin_extra_id`

const itemColumns = `id, order_id, position, sku, name, source_kind, supplier, supplier_product_id,
	cost_amount, cost_currency, quantity, unit_price, currency, status, failure_reason, failure_retryable,
	supplier_order_id, keys`

// loadOrder reads one order, locking its row until the transaction ends
// when forUpdate is set; domain.ErrNotFound if it does not exist.
func loadOrder(ctx context.Context, tx *sqlx.Tx, id string, forUpdate bool) (*domain.Order, error) {
	query := `SELECT ` + orderColumns + ` FROM orders WHERE id = $1`
	if forUpdate {
		query += ` FOR UPDATE`
	}
	var row orderRow
	if err := tx.GetContext(ctx, &row, query, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("%w: order %s", domain.ErrNotFound, id)
		}
		return nil, fmt.Errorf("load order %s: %w", id, translate(err))
	}
	orders, err := hydrate(ctx, tx, []orderRow{row})
	if err != nil {
		return nil, err
	}
	return orders[0], nil
}

// hydrate loads the items and timelines of the given order rows, in two
// queries whatever their number, and rehydrates the orders in row order.
func hydrate(ctx context.Context, tx *sqlx.Tx, rows []orderRow) ([]*domain.Order, error) {
	if len(rows) == 0 {
		return []*domain.Order{}, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var items []itemRow
	if err := tx.SelectContext(ctx, &items, `SELECT `+itemColumns+` FROM order_items
		WHERE order_id = ANY($1) ORDER BY order_id, position`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load order items: %w", translate(err))
	}
	var timeline []timelineRow
	if err := tx.SelectContext(ctx, &timeline, `SELECT order_id, type, status, metadata, at FROM order_timeline
		WHERE order_id = ANY($1) ORDER BY order_id, id`, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("load order timelines: %w", translate(err))
	}
	itemsOf := map[string][]itemRow{}
	for _, it := range items {
		itemsOf[it.OrderID] = append(itemsOf[it.OrderID], it)
	}
	timelineOf := map[string][]timelineRow{}
	for _, e := range timeline {
		timelineOf[e.OrderID] = append(timelineOf[e.OrderID], e)
	}
	out := make([]*domain.Order, len(rows))
	for i, r := range rows {
		o, err := orderFromRows(r, itemsOf[r.ID], timelineOf[r.ID])
		if err != nil {
			return nil, fmt.Errorf("read order %s: %w", r.ID, err)
		}
		out[i] = o
	}
	return out, nil
}

// insertOrder writes a new order row at version 1.
func insertOrder(ctx context.Context, tx *sqlx.Tx, o *domain.Order) error {
	row := orderToRow(o)
	row.Version++
	_, err := tx.NamedExecContext(ctx, `INSERT INTO orders (`+orderColumns+`) VALUES (:id, :email,
		:access_token_hash, :total_amount, :currency, :payment_provider, :payment_id, :pay_address, :pay_amount,
		:pay_currency, :payment_status, :actually_paid, :status, :version, :created_at, :updated_at,
		:delivery_claim, :delivery_claimed_at, :payin_extra_id)`, row)
	if err != nil {
		return fmt.Errorf("insert order %s: %w", o.ID(), translate(err))
	}
	return nil
}

// updateOrder writes the order's mutable fields and bumps its version. The
// row is locked, so the version check only guards against a caller that
// did not load it under the lock.
func updateOrder(ctx context.Context, tx *sqlx.Tx, o *domain.Order) error {
	res, err := tx.NamedExecContext(ctx, `UPDATE orders SET payment_provider = :payment_provider,
		payment_id = :payment_id, pay_address = :pay_address, pay_amount = :pay_amount, pay_currency = :pay_currency,
		payin_extra_id = :payin_extra_id, payment_status = :payment_status, actually_paid = :actually_paid, status = :status,
		delivery_claim = :delivery_claim, delivery_claimed_at = :delivery_claimed_at,
		version = version + 1, updated_at = :updated_at
		WHERE id = :id AND version = :version`, orderToRow(o))
	if err != nil {
		return fmt.Errorf("update order %s: %w", o.ID(), translate(err))
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w: order %s changed since version %d", domain.ErrConflict, o.ID(), o.Version())
	}
	return nil
}

// saveItems inserts or updates the order's items, skipping those equal to
// stored, the items as loaded (nil for a new order): most saves change one
// item or none. An item id that belongs to another order is a
// domain.ErrConflict, never an overwrite.
func saveItems(ctx context.Context, tx *sqlx.Tx, o *domain.Order, stored []domain.ItemSnapshot) error {
	for pos, it := range o.Snapshot().Items {
		if pos < len(stored) && reflect.DeepEqual(stored[pos], it) {
			continue
		}
		row, err := itemToRow(o.ID(), pos, it)
		if err != nil {
			return err
		}
		res, err := tx.NamedExecContext(ctx, `INSERT INTO order_items (`+itemColumns+`) VALUES (:id, :order_id,
			:position, :sku, :name, :source_kind, :supplier, :supplier_product_id, :cost_amount, :cost_currency,
			:quantity, :unit_price, :currency, :status, :failure_reason, :failure_retryable, :supplier_order_id, :keys)
			ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, failure_reason = EXCLUDED.failure_reason,
			failure_retryable = EXCLUDED.failure_retryable, supplier_order_id = EXCLUDED.supplier_order_id,
			keys = EXCLUDED.keys
			WHERE order_items.order_id = EXCLUDED.order_id`, row)
		if err != nil {
			return fmt.Errorf("save item %s of order %s: %w", it.ID, o.ID(), translate(err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("%w: item %s belongs to another order", domain.ErrConflict, it.ID)
		}
	}
	return nil
}

// insertTimeline appends the timeline entries recorded since the order was
// loaded; stored entries are never rewritten.
func insertTimeline(ctx context.Context, tx *sqlx.Tx, o *domain.Order) error {
	entries := o.NewTimeline()
	if len(entries) == 0 {
		return nil
	}
	rows := make([]timelineRow, len(entries))
	for i, e := range entries {
		r, err := timelineToRow(o.ID(), e)
		if err != nil {
			return err
		}
		rows[i] = r
	}
	// One multi-row INSERT: VALUES rows are inserted, and take their ids (the
	// timeline order), in slice order.
	if _, err := tx.NamedExecContext(ctx, `INSERT INTO order_timeline (order_id, type, status, metadata, at)
		VALUES (:order_id, :type, :status, :metadata, :at)`, rows); err != nil {
		return fmt.Errorf("append timeline of order %s: %w", o.ID(), translate(err))
	}
	return nil
}
