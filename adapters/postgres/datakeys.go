package postgres

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/ports"
)

// DataKeys is a ports.DataKeyRepository on PostgreSQL. It holds wrapped
// keys only; a wrapped key is useless without the vault.
type DataKeys struct{ db *sqlx.DB }

var (
	_ ports.DataKeyRepository = (*DataKeys)(nil)
	_ ports.Stored            = (*DataKeys)(nil)
)

// NewDataKeys returns the repository.
func NewDataKeys(db *sqlx.DB) *DataKeys { return &DataKeys{db: db} }

// dataKeyRow is a row of data_keys (without its timestamps).
type dataKeyRow struct {
	OrderID    string `db:"order_id"`
	Ciphertext string `db:"ciphertext"`
	Version    int    `db:"version"`
}

// StoredIn returns the database (ports.Stored): Links reads a data key
// along with its link.
func (r *DataKeys) StoredIn() any { return r.db }

// Create stores k; domain.ErrConflict if the order has a key.
func (r *DataKeys) Create(ctx context.Context, orderID string, k ports.WrappedKey) error {
	if _, err := ext(ctx, r.db).ExecContext(ctx, `INSERT INTO data_keys (order_id, ciphertext, version) VALUES ($1, $2, $3)`,
		orderID, k.Ciphertext, k.Version); err != nil {
		return fmt.Errorf("create data key of order %s: %w", orderID, translate(err))
	}
	return nil
}

// Get returns the wrapped key or domain.ErrNotFound.
func (r *DataKeys) Get(ctx context.Context, orderID string) (ports.WrappedKey, error) {
	var row dataKeyRow
	if err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, `SELECT order_id, ciphertext, version FROM data_keys WHERE order_id = $1`, orderID); err != nil {
		return ports.WrappedKey{}, fmt.Errorf("data key of order %s: %w", orderID, translate(err))
	}
	return ports.WrappedKey{Ciphertext: row.Ciphertext, Version: row.Version}, nil
}

// Delete destroys the wrapped key (crypto-shredding); a missing key is not
// an error.
func (r *DataKeys) Delete(ctx context.Context, orderID string) error {
	if _, err := ext(ctx, r.db).ExecContext(ctx, `DELETE FROM data_keys WHERE order_id = $1`, orderID); err != nil {
		return fmt.Errorf("delete data key of order %s: %w", orderID, translate(err))
	}
	return nil
}

// ListOlderThan returns up to limit keys wrapped below version, by order
// id, after afterOrderID; a limit of 0 or less means all.
func (r *DataKeys) ListOlderThan(ctx context.Context, version int, afterOrderID string, limit int) ([]ports.StoredDataKey, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	var rows []dataKeyRow
	if err := sqlx.SelectContext(ctx, ext(ctx, r.db), &rows, `SELECT order_id, ciphertext, version FROM data_keys
		WHERE version < $1 AND order_id > $2 ORDER BY order_id LIMIT $3`, version, afterOrderID, lim); err != nil {
		return nil, fmt.Errorf("list data keys below v%d: %w", version, translate(err))
	}
	out := make([]ports.StoredDataKey, len(rows))
	for i, row := range rows {
		out[i] = ports.StoredDataKey{OrderID: row.OrderID, Wrapped: ports.WrappedKey{Ciphertext: row.Ciphertext, Version: row.Version}}
	}
	return out, nil
}

// Replace swaps old for new when the stored key still equals old (a
// compare-and-swap in one statement); it reports whether it did.
func (r *DataKeys) Replace(ctx context.Context, orderID string, old, new ports.WrappedKey) (bool, error) {
	res, err := ext(ctx, r.db).ExecContext(ctx, `UPDATE data_keys SET ciphertext = $4, version = $5, updated_at = now()
		WHERE order_id = $1 AND ciphertext = $2 AND version = $3`,
		orderID, old.Ciphertext, old.Version, new.Ciphertext, new.Version)
	if err != nil {
		return false, fmt.Errorf("replace data key of order %s: %w", orderID, translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace data key of order %s: %w", orderID, err)
	}
	return n == 1, nil
}

// CountWrappedBy counts the keys whose ciphertext starts with kind+":"
// (starts_with, not LIKE, so that a kind holding % or _ matches literally).
func (r *DataKeys) CountWrappedBy(ctx context.Context, kind string) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, ext(ctx, r.db), &n, `SELECT count(*) FROM data_keys WHERE starts_with(ciphertext, $1)`, kind+":"); err != nil {
		return 0, fmt.Errorf("count data keys wrapped by %s: %w", kind, translate(err))
	}
	return n, nil
}
