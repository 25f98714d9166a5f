package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/sqlmark"
)

const orderColumns = `id, email, access_token_hash, total_amount, currency, payment_provider, payment_id,
	pay_address, pay_amount, pay_currency, payment_status, actually_paid, status, version, created_at, updated_at,
	delivery_claim, delivery_claimed_at, payin_extra_id`

const itemColumns = `id, order_id, position, sku, name, source_kind, supplier, supplier_product_id,
	cost_amount, cost_currency, quantity, unit_price, currency, status, failure_reason, failure_retryable,
	supplier_order_id, bought_from, keys, release_date`

const timelineColumns = `id, type, status, metadata, at`

// orderLoadColumns are the order's columns followed by its items and its
// timeline, each gathered into a JSON array by a correlated subquery, so
// that an order (or a page of them) loads in one statement, hence from one
// snapshot. JSON keeps what the decoding needs exactly: numeric columns
// become JSON numbers written with their full numeric text (decoded to
// decimals, never to floats), jsonb columns are embedded as stored, and
// times are written to the microsecond with their offset. The arrays are
// not ordered here (an ordered aggregate sorts each order's few rows on
// its own, which measured dearer than sorting them in Go): order_rows.go
// decodes them and puts them in order.
var orderLoadColumns = orderColumns + `, ` + orderChildColumns

// orderChildColumns are the items and the timeline of orderLoadColumns.
var orderChildColumns = `(SELECT coalesce(json_agg(` + jsonObject(itemColumns) + `), '[]')
		FROM order_items WHERE order_items.order_id = orders.id) AS items,
	(SELECT coalesce(json_agg(` + jsonObject(timelineColumns) + `), '[]')
		FROM order_timeline WHERE order_timeline.order_id = orders.id) AS timeline`

// qualified returns the comma-separated columns, each qualified with
// table and, when prefix is not empty, named prefix.column (sqlx's name
// of a column of a struct field tagged prefix).
func qualified(table, prefix, columns string) string {
	var out []string
	for c := range strings.SplitSeq(columns, ",") {
		c = strings.TrimSpace(c)
		if prefix == "" {
			out = append(out, table+"."+c)
		} else {
			out = append(out, table+"."+c+` AS "`+prefix+"."+c+`"`)
		}
	}
	return strings.Join(out, ", ")
}

// jsonObject returns the SQL of a JSON object with one field per column of
// the comma-separated list, named as the column.
func jsonObject(columns string) string {
	var fields []string
	for c := range strings.SplitSeq(columns, ",") {
		c = strings.TrimSpace(c)
		fields = append(fields, "'"+c+"', "+c)
	}
	return "json_build_object(" + strings.Join(fields, ", ") + ")"
}

// lockedOrderQuery loads an order and locks its row. Under read committed,
// a row that another transaction updated after this statement's snapshot
// is locked in its latest version, while the subqueries still read the
// snapshot: the items and timeline would be older than the order row. The
// last column tells the two cases apart (the row's version in the snapshot
// is the one locked) and loadOrder reads again when they differ.
var lockedOrderQuery = `SELECT ` + orderLoadColumns + `,
	orders.xmin = (SELECT s.xmin FROM orders s WHERE s.id = orders.id) AS current
	FROM orders WHERE id = $1 FOR UPDATE OF orders`

// orderQuery loads an order without locking it.
var orderQuery = `SELECT ` + orderLoadColumns + ` FROM orders WHERE id = $1`

// loadOrder reads one order in one statement, prepared (the hottest
// query of the pipeline), locking its row until the transaction ends when
// forUpdate is set; domain.ErrNotFound if it does not exist.
func loadOrder(ctx context.Context, prepared *preparedStatements, q sqlx.QueryerContext, id string, forUpdate bool) (*domain.Order, error) {
	if !forUpdate {
		var row orderLoadRow
		if err := prepared.get(ctx, q, &row, orderQuery, id); err != nil {
			return nil, loadError(id, err)
		}
		return row.order()
	}
	// Once the row is locked nobody else can update it, so the second read
	// (a new snapshot under read committed) is current.
	for range 2 {
		var row orderLoadRow
		if err := prepared.get(ctx, q, &row, lockedOrderQuery, id); err != nil {
			return nil, loadError(id, err)
		}
		if row.Current {
			return row.order()
		}
	}
	return nil, fmt.Errorf("load order %s: its row kept changing after it was locked", id)
}

func loadError(id string, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: order %s", domain.ErrNotFound, id)
	}
	return fmt.Errorf("load order %s: %w", id, translate(err))
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

// updateOrder writes the order's mutable fields and bumps its version,
// expecting the stored row at o's version: the statement checks it
// (sqlmark.ExpectRows), so that the write is batched with the
// transaction's others (batch.go), and a row that moved on fails the
// transaction as a conflict, which runs it again (staleSeen).
func updateOrder(ctx context.Context, tx *sqlx.Tx, o *domain.Order) error {
	if _, err := tx.NamedExecContext(ctx, sqlmark.ExpectRows(1, `UPDATE orders SET payment_provider = :payment_provider,
		payment_id = :payment_id, pay_address = :pay_address, pay_amount = :pay_amount, pay_currency = :pay_currency,
		payin_extra_id = :payin_extra_id, payment_status = :payment_status, actually_paid = :actually_paid, status = :status,
		delivery_claim = :delivery_claim, delivery_claimed_at = :delivery_claimed_at,
		version = version + 1, updated_at = :updated_at
		WHERE id = :id AND version = :version`), orderToRow(o)); err != nil {
		return fmt.Errorf("update order %s: %w", o.ID(), translate(err))
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
		res, err := tx.NamedExecContext(ctx, sqlmark.ExpectRowsFinal(1, `INSERT INTO order_items (`+itemColumns+`) VALUES (:id, :order_id,
			:position, :sku, :name, :source_kind, :supplier, :supplier_product_id, :cost_amount, :cost_currency,
			:quantity, :unit_price, :currency, :status, :failure_reason, :failure_retryable, :supplier_order_id, :bought_from, :keys, :release_date)
			ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, failure_reason = EXCLUDED.failure_reason,
			failure_retryable = EXCLUDED.failure_retryable, supplier_order_id = EXCLUDED.supplier_order_id,
			bought_from = EXCLUDED.bought_from,
			keys = EXCLUDED.keys, release_date = EXCLUDED.release_date
			WHERE order_items.order_id = EXCLUDED.order_id`), row)
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
