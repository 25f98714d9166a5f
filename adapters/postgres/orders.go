package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Orders is a ports.OrderRepository on PostgreSQL. Each save and the
// order's events go to the database in one transaction, through an Outbox.
type Orders struct {
	db       *sqlx.DB
	outbox   Outbox
	prepared *preparedStatements
}

var _ ports.OrderRepository = (*Orders)(nil)

// NewOrders returns a repository that hands order events to outbox within
// each save's transaction; pass NoOutbox{} to drop them.
func NewOrders(db *sqlx.DB, outbox Outbox) *Orders {
	if db == nil || outbox == nil {
		panic("postgres.NewOrders: nil db or outbox (use NoOutbox{} to drop events)")
	}
	return &Orders{db: db, outbox: outbox, prepared: newPreparedStatements(db)}
}

// Create stores o and publishes its events in one transaction;
// domain.ErrConflict if the id (or an item id) exists. On success o is
// marked saved (version 1).
func (r *Orders) Create(ctx context.Context, o *domain.Order) error {
	// Popped once, outside the transaction, so that a retried transaction
	// publishes them again. A failed Create consumes them.
	events := o.PopEvents()
	err := withTx(ctx, r.db, func(tx *sqlx.Tx) error {
		if err := insertOrder(ctx, tx, o); err != nil {
			return err
		}
		return r.saveRest(ctx, tx, o, nil, events)
	})
	if err != nil {
		return err
	}
	o.MarkSaved()
	return nil
}

// Get returns the order or domain.ErrNotFound. It is one statement, which
// sees one committed state of the order, its items and its timeline: no
// transaction is needed around it. Outside a transaction, database/sql
// runs a statement whose connection was lost again on another one.
func (r *Orders) Get(ctx context.Context, id string) (*domain.Order, error) {
	return loadOrder(ctx, r.prepared, ext(ctx, r.db), id, false)
}

// Update locks the order's row, calls fn, and saves the order with its new
// timeline entries and events in the same transaction. fn's error is
// returned unchanged and nothing is saved; domain.ErrNotFound if the order
// does not exist. fn may run more than once when the database asks for the
// transaction to be retried.
func (r *Orders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	var o *domain.Order
	err := withTx(ctx, r.db, func(tx *sqlx.Tx) (err error) {
		o, err = r.updateLocked(ctx, tx, id, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	o.MarkSaved()
	return o, nil
}

// updateLocked loads the order under a lock, calls fn and saves it in tx.
func (r *Orders) updateLocked(ctx context.Context, tx *sqlx.Tx, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	o, err := loadOrder(ctx, r.prepared, tx, id, true)
	if err != nil {
		return nil, err
	}
	stored := o.Snapshot().Items
	if err := fn(o); err != nil {
		return nil, err
	}
	if err := updateOrder(ctx, tx, o); err != nil {
		return nil, err
	}
	return o, r.saveRest(ctx, tx, o, stored, o.PopEvents())
}

var _ ports.SeenOrderUpdater = (*Orders)(nil)

// UpdateSeen is Update without its locking read while the order is as
// seen: fn changes a copy of seen, and the row is written expecting it
// still at seen's version (sqlmark.ExpectRows: the UPDATE takes its lock,
// waits for a writer holding it, and is batched with the unit of work's
// other writes). Every change of an order's items or timeline is saved
// with its row's version raised, so a row at seen's version has seen's
// items and timeline. A row that moved on fails the unit of work, which
// runs again (staleSeen) and then runs Update, as it does when fn fails
// on the copy: nothing was written.
func (r *Orders) UpdateSeen(ctx context.Context, seen domain.OrderSnapshot, fn func(*domain.Order) error) (*domain.Order, error) {
	var o *domain.Order
	err := runTxCtx(ctx, r.db, nil, func(ctx context.Context, tx *sqlx.Tx) (err error) {
		if o, err = domain.UnmarshalOrder(seen); err != nil {
			return err
		}
		if !staleSeen(ctx) && fn(o) == nil {
			if err := updateOrder(ctx, tx, o); err != nil {
				return err
			}
			return r.saveRest(ctx, tx, o, seen.Items, o.PopEvents())
		}
		o, err = r.updateLocked(ctx, tx, seen.ID, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	o.MarkSaved()
	return o, nil
}

// List returns orders newest first (ids are time-ordered), after the
// cursor id, filtered as q says; a Limit of 0 or less means all.
func (r *Orders) List(ctx context.Context, q ports.OrderQuery) ([]*domain.Order, error) {
	var status, email, from, to, limit any // NULL: no filter, no limit
	if q.Status != nil {
		status = q.Status.String()
	}
	if q.Email != "" {
		email = q.Email
	}
	if !q.CreatedFrom.IsZero() {
		from = q.CreatedFrom
	}
	if !q.CreatedTo.IsZero() {
		to = q.CreatedTo
	}
	if q.Limit > 0 {
		limit = q.Limit
	}
	// One statement loads the page with the items and timelines of its
	// orders, from one snapshot.
	var rows []orderLoadRow
	if err := sqlx.SelectContext(ctx, ext(ctx, r.db), &rows, `SELECT `+orderLoadColumns+` FROM orders
		WHERE ($1::text IS NULL OR status = $1) AND ($2 = '' OR id < $2)
		AND ($4::text IS NULL OR lower(email) = lower($4))
		AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6)
		AND ($7 = '' OR id IN (SELECT order_id FROM order_items WHERE id = $7))
		ORDER BY id DESC LIMIT $3`, status, q.After, limit, email, from, to, q.ItemID); err != nil {
		return nil, fmt.Errorf("list orders: %w", translate(err))
	}
	out := make([]*domain.Order, len(rows))
	for i, row := range rows {
		o, err := row.order()
		if err != nil {
			return nil, err
		}
		out[i] = o
	}
	return out, nil
}

// saveRest writes what follows the order row: the items that differ from
// stored (as loaded; nil when new), new timeline entries and the events,
// through the outbox on the same transaction.
func (r *Orders) saveRest(ctx context.Context, tx *sqlx.Tx, o *domain.Order, stored []domain.ItemSnapshot, events []domain.Event) error {
	if err := saveItems(ctx, tx, o, stored); err != nil {
		return err
	}
	if err := insertTimeline(ctx, tx, o); err != nil {
		return err
	}
	if len(events) == 0 {
		return nil
	}
	if err := r.outbox.PublishTx(ctx, tx.Tx, events...); err != nil {
		return fmt.Errorf("publish events of order %s: %w", o.ID(), err)
	}
	return nil
}
