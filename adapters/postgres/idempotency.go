package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/ports"
)

// IdempotencyKeys is a ports.IdempotencyKeys on PostgreSQL.
type IdempotencyKeys struct{ db *sqlx.DB }

var _ ports.IdempotencyKeys = (*IdempotencyKeys)(nil)

// NewIdempotencyKeys returns the keys stored in db.
func NewIdempotencyKeys(db *sqlx.DB) *IdempotencyKeys { return &IdempotencyKeys{db: db} }

// Remember records key; domain.ErrConflict when it is recorded already.
func (k *IdempotencyKeys) Remember(ctx context.Context, key, fingerprint, orderID string, at time.Time) error {
	_, err := ext(ctx, k.db).ExecContext(ctx, `INSERT INTO idempotency_keys (key_hash, fingerprint, order_id, created_at)
		VALUES ($1, $2, $3, $4)`, key, fingerprint, orderID, at.UTC())
	if err != nil {
		return fmt.Errorf("remember idempotency key: %w", translate(err))
	}
	return nil
}

// Lookup returns what key recorded, or domain.ErrNotFound.
func (k *IdempotencyKeys) Lookup(ctx context.Context, key string) (string, string, error) {
	var row struct {
		OrderID     string `db:"order_id"`
		Fingerprint string `db:"fingerprint"`
	}
	err := sqlx.GetContext(ctx, ext(ctx, k.db), &row, `SELECT order_id, fingerprint FROM idempotency_keys WHERE key_hash = $1`, key)
	if err != nil {
		return "", "", fmt.Errorf("look up idempotency key: %w", translate(err))
	}
	return row.OrderID, row.Fingerprint, nil
}
