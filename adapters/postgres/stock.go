package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Stock is a ports.StockRepository on PostgreSQL. Claims lock the keys
// they take with FOR UPDATE SKIP LOCKED: concurrent orders pass each
// other's locked keys by instead of waiting, and never get the same key.
type Stock struct{ db *sqlx.DB }

var _ ports.StockRepository = (*Stock)(nil)

// NewStock returns the repository.
func NewStock(db *sqlx.DB) *Stock { return &Stock{db: db} }

type stockKeyRow struct {
	ID          string    `db:"id"`
	SKU         string    `db:"sku"`
	Sealed      []byte    `db:"sealed"`
	ContentType string    `db:"content_type"`
	Status      string    `db:"status"`
	CreatedAt   time.Time `db:"created_at"`
}

// Add stores the keys whose hash is new, and whose legacy hash no key of
// the old hash form holds, in one statement, and returns their ids.
func (s *Stock) Add(ctx context.Context, keys []domain.StockKey) ([]domain.StockKeyID, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	ids, skus, types := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
	hashes, legacy, sealed := make(pq.ByteaArray, len(keys)), make(pq.ByteaArray, len(keys)), make(pq.ByteaArray, len(keys))
	created := make([]string, len(keys))
	for i, k := range keys {
		ids[i], skus[i], types[i] = string(k.ID), k.SKU, k.ContentType
		hashes[i], legacy[i], sealed[i] = k.Hash, k.LegacyHash, k.Sealed
		created[i] = k.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	var added []domain.StockKeyID
	err := sqlx.SelectContext(ctx, ext(ctx, s.db), &added, `
		INSERT INTO stock_keys (id, sku, key_hash, hash_version, sealed, content_type, created_at, updated_at)
		SELECT id, sku, key_hash, 2, sealed, content_type, created_at::timestamptz, created_at::timestamptz
		FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[], $5::text[], $6::text[], $7::bytea[])
			AS k(id, sku, key_hash, sealed, content_type, created_at, legacy_hash)
		WHERE NOT EXISTS (SELECT 1 FROM stock_keys o
			WHERE o.key_hash = k.legacy_hash AND o.hash_version = 1 AND o.duplicate_of IS NULL)
		ON CONFLICT (key_hash) WHERE duplicate_of IS NULL DO NOTHING
		RETURNING id`,
		pq.Array(ids), pq.Array(skus), hashes, sealed, pq.Array(types), pq.Array(created), legacy)
	if err != nil {
		return nil, fmt.Errorf("add stock keys: %w", translate(err))
	}
	return added, nil
}

// Claim assigns n available keys of sku to itemID, oldest first, skipping
// keys a concurrent claim holds. The ciphertext stays on the row until the
// transaction commits (the stock_keys_drop_sealed trigger drops it then),
// so a claim resumed in the same unit of work returns it too.
func (s *Stock) Claim(ctx context.Context, sku, itemID string, n int) ([]domain.StockKey, error) {
	var out []domain.StockKey
	err := withTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var mine []stockKeyRow
		if err := sqlx.SelectContext(ctx, tx, &mine, `SELECT id, sku, sealed, content_type, status, created_at FROM stock_keys
			WHERE item_id = $1 AND sku = $2 AND status = 'assigned' ORDER BY created_at, id FOR UPDATE`, itemID, sku); err != nil {
			return fmt.Errorf("keys of item %s: %w", itemID, err)
		}
		need := n - len(mine)
		var free []stockKeyRow
		if need > 0 {
			if err := sqlx.SelectContext(ctx, tx, &free, `SELECT id, sku, sealed, content_type, status, created_at FROM stock_keys
				WHERE sku = $1 AND status = 'available' ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED`, sku, need); err != nil {
				return fmt.Errorf("available keys: %w", err)
			}
			if len(free) < need {
				return fmt.Errorf("%w: %s has %d keys free in stock, %d asked", domain.ErrOutOfStock, sku, len(free), need)
			}
			ids := make([]string, len(free))
			for i, r := range free {
				ids[i] = r.ID
			}
			if _, err := tx.ExecContext(ctx, `UPDATE stock_keys SET status = 'assigned', item_id = $1, updated_at = now()
				WHERE id = ANY($2)`, itemID, pq.Array(ids)); err != nil {
				return fmt.Errorf("assign keys: %w", err)
			}
		}
		out = out[:0]
		for _, r := range append(mine, free...)[:n] {
			out = append(out, domain.StockKey{ID: domain.StockKeyID(r.ID), SKU: r.SKU, Sealed: r.Sealed, ContentType: r.ContentType,
				Status: domain.StockAssigned, ItemID: itemID, CreatedAt: r.CreatedAt})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim stock of %s for %s: %w", sku, itemID, err)
	}
	return out, nil
}

// Withdraw takes an available key out of the stock and drops its ciphertext.
func (s *Stock) Withdraw(ctx context.Context, sku string, id domain.StockKeyID, at time.Time) error {
	return withTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var status string
		if err := tx.GetContext(ctx, &status, `SELECT status FROM stock_keys WHERE id = $1 AND sku = $2 FOR UPDATE`, string(id), sku); err != nil {
			return fmt.Errorf("stock key %s of %s: %w", id, sku, translate(err))
		}
		if status != domain.StockAvailable.String() {
			return fmt.Errorf("%w: stock key %s is %s", domain.ErrInvalidTransition, id, status)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE stock_keys SET status = 'withdrawn', sealed = NULL, updated_at = $2 WHERE id = $1`, string(id), at); err != nil {
			return fmt.Errorf("withdraw stock key %s: %w", id, err)
		}
		return nil
	})
}

// Counts returns how many keys of sku are in each status.
func (s *Stock) Counts(ctx context.Context, sku string) (domain.StockCounts, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &rows, `SELECT status, count(*) AS n FROM stock_keys WHERE sku = $1 GROUP BY status`, sku); err != nil {
		return domain.StockCounts{}, fmt.Errorf("stock counts of %s: %w", sku, translate(err))
	}
	var c domain.StockCounts
	for _, r := range rows {
		switch r.Status {
		case domain.StockAvailable.String():
			c.Available = r.N
		case domain.StockAssigned.String():
			c.Assigned = r.N
		case domain.StockWithdrawn.String():
			c.Withdrawn = r.N
		}
	}
	return c, nil
}

// SetSourcing stores the sourcing mode of sku.
func (s *Stock) SetSourcing(ctx context.Context, sku string, m domain.Sourcing) error {
	if _, err := ext(ctx, s.db).ExecContext(ctx, `INSERT INTO product_sourcing (sku, sourcing) VALUES ($1, $2)
		ON CONFLICT (sku) DO UPDATE SET sourcing = excluded.sourcing, updated_at = now()`, sku, m.String()); err != nil {
		return fmt.Errorf("set sourcing of %s: %w", sku, translate(err))
	}
	return nil
}

// Sourcing returns the mode stored for sku or domain.ErrNotFound.
func (s *Stock) Sourcing(ctx context.Context, sku string) (domain.Sourcing, error) {
	var name string
	if err := sqlx.GetContext(ctx, ext(ctx, s.db), &name, `SELECT sourcing FROM product_sourcing WHERE sku = $1`, sku); err != nil {
		return domain.Sourcing{}, fmt.Errorf("sourcing of %s: %w", sku, translate(err))
	}
	m, err := domain.ParseSourcing(name)
	if err != nil {
		return domain.Sourcing{}, fmt.Errorf("sourcing of %s: %w", sku, err)
	}
	return m, nil
}

// Restock puts keys assigned to itemID back into the stock with their new
// ciphertext, in one statement per key under row locks.
func (s *Stock) Restock(ctx context.Context, sku, itemID string, keys []domain.StockKey, at time.Time) error {
	return withTx(ctx, s.db, func(tx *sqlx.Tx) error {
		for _, k := range keys {
			var row struct {
				Status string         `db:"status"`
				ItemID sql.NullString `db:"item_id"`
			}
			if err := tx.GetContext(ctx, &row, `SELECT status, item_id FROM stock_keys WHERE id = $1 AND sku = $2 FOR UPDATE`, string(k.ID), sku); err != nil {
				return fmt.Errorf("stock key %s of %s: %w", k.ID, sku, translate(err))
			}
			if row.Status != domain.StockAssigned.String() || row.ItemID.String != itemID || len(k.Sealed) == 0 {
				return fmt.Errorf("%w: stock key %s is %s, not assigned to %s", domain.ErrInvalidTransition, k.ID, row.Status, itemID)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE stock_keys SET status = 'available', item_id = NULL, sealed = $2, updated_at = $3 WHERE id = $1`,
				string(k.ID), k.Sealed, at); err != nil {
				return fmt.Errorf("restock key %s: %w", k.ID, err)
			}
		}
		return nil
	})
}
