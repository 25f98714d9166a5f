package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
)

// lockedRow is how lockedUpdate reads and writes one kind of row: the
// query that selects it by id (without FOR UPDATE), the update that saves
// what the aggregate's methods may change, and the mapping both ways.
type lockedRow[R, E any] struct {
	what    string // "delivery link", in errors
	get     string
	save    string
	fromRow func(R) (E, error)
	toRow   func(E) any
}

// lockedUpdate locks the row with id, calls fn on its aggregate and saves
// it, in one transaction; fn's error is returned unchanged and nothing is
// saved; domain.ErrNotFound when the row does not exist.
func lockedUpdate[R, E any](ctx context.Context, db *sqlx.DB, k lockedRow[R, E], id string, fn func(E) error) (E, error) {
	var e E
	err := withTx(ctx, db, func(tx *sqlx.Tx) error {
		var row R
		if err := tx.GetContext(ctx, &row, k.get+` FOR UPDATE`, id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %s %s", domain.ErrNotFound, k.what, id)
			}
			return fmt.Errorf("load %s %s: %w", k.what, id, translate(err))
		}
		var err error
		if e, err = k.fromRow(row); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		if _, err := tx.NamedExecContext(ctx, k.save, k.toRow(e)); err != nil {
			return fmt.Errorf("save %s %s: %w", k.what, id, translate(err))
		}
		return nil
	})
	if err != nil {
		var zero E
		return zero, err
	}
	return e, nil
}
