package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/domain"
)

// stockRehashLock serialises rehash batches across processes (an API and a
// worker start together): a batch holds it until its transaction ends.
const stockRehashLock int64 = 0x6b77_7374_6b72_6831 // "kwstkrh1"

type stockHolderRow struct {
	stockKeyRow
	Hash   []byte  `db:"key_hash"`
	ItemID *string `db:"item_id"`
}

// PendingRehash returns, and locks for the unit of work in ctx, the oldest
// n available keys still hashed in the old form.
func (s *Stock) PendingRehash(ctx context.Context, n int) ([]domain.StockKey, error) {
	var rows []stockKeyRow
	err := withTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, stockRehashLock); err != nil {
			return fmt.Errorf("rehash lock: %w", err)
		}
		return sqlx.SelectContext(ctx, tx, &rows, `SELECT id, sku, sealed, content_type, status, created_at FROM stock_keys
			WHERE hash_version = 1 AND status = 'available' ORDER BY created_at, id LIMIT $1 FOR UPDATE`, n)
	})
	if err != nil {
		return nil, fmt.Errorf("stock keys to rehash: %w", err)
	}
	out := make([]domain.StockKey, len(rows))
	for i, r := range rows {
		out[i] = domain.StockKey{ID: domain.StockKeyID(r.ID), SKU: r.SKU, Sealed: r.Sealed, ContentType: r.ContentType,
			Status: domain.StockAvailable, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// HashHolders returns the keys, but withdrawn duplicates, known by any of
// hashes.
func (s *Stock) HashHolders(ctx context.Context, hashes [][]byte) ([]domain.StockKey, error) {
	var rows []stockHolderRow
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &rows, `SELECT id, sku, key_hash, content_type, status, item_id, created_at
		FROM stock_keys WHERE key_hash = ANY($1) AND duplicate_of IS NULL`, pq.ByteaArray(hashes)); err != nil {
		return nil, fmt.Errorf("stock keys by hash: %w", translate(err))
	}
	out := make([]domain.StockKey, len(rows))
	for i, r := range rows {
		st, err := domain.ParseStockKeyStatus(r.Status)
		if err != nil {
			return nil, fmt.Errorf("stock key %s: %w", r.ID, err)
		}
		out[i] = domain.StockKey{ID: domain.StockKeyID(r.ID), SKU: r.SKU, Hash: r.Hash, ContentType: r.ContentType, Status: st, CreatedAt: r.CreatedAt}
		if r.ItemID != nil {
			out[i].ItemID = *r.ItemID
		}
	}
	return out, nil
}

// ApplyRehash withdraws and holds the plan's duplicates first (they leave
// the unique index of live hashes) and its refused keys, their ciphertext
// kept, then gives the kept keys their canonical hash.
func (s *Stock) ApplyRehash(ctx context.Context, plan domain.StockRehashPlan, at time.Time) error {
	return withTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if n := len(plan.Duplicates); n > 0 {
			ids, of, hashes := make([]string, n), make([]string, n), make(pq.ByteaArray, n)
			for i, d := range plan.Duplicates {
				ids[i], of[i], hashes[i] = string(d.Key.ID), string(d.Of.ID), d.Key.Hash
			}
			res, err := tx.ExecContext(ctx, `UPDATE stock_keys s SET status = 'withdrawn', held = true, duplicate_of = d.of,
					key_hash = d.key_hash, hash_version = 2, updated_at = $4
				FROM unnest($1::text[], $2::text[], $3::bytea[]) AS d(id, of, key_hash)
				WHERE s.id = d.id AND s.status = 'available'`, pq.Array(ids), pq.Array(of), hashes, at)
			if err := wantRows(res, err, n, "withdraw duplicate stock keys"); err != nil {
				return err
			}
		}
		if n := len(plan.Refused); n > 0 {
			ids := make([]string, n)
			for i, k := range plan.Refused {
				ids[i] = string(k.ID)
			}
			res, err := tx.ExecContext(ctx, `UPDATE stock_keys SET status = 'withdrawn', held = true, updated_at = $2
				WHERE id = ANY($1) AND status = 'available'`, pq.Array(ids), at)
			if err := wantRows(res, err, n, "hold refused stock keys"); err != nil {
				return err
			}
		}
		if n := len(plan.Rehashed); n > 0 {
			ids, hashes := make([]string, n), make(pq.ByteaArray, n)
			for i, k := range plan.Rehashed {
				ids[i], hashes[i] = string(k.ID), k.Hash
			}
			res, err := tx.ExecContext(ctx, `UPDATE stock_keys s SET key_hash = k.key_hash, hash_version = 2
				FROM unnest($1::text[], $2::bytea[]) AS k(id, key_hash)
				WHERE s.id = k.id AND s.status = 'available' AND s.hash_version = 1`, pq.Array(ids), hashes)
			if err := wantRows(res, err, n, "rehash stock keys"); err != nil {
				return err
			}
		}
		return nil
	})
}

// wantRows checks that a statement changed n rows: fewer means another
// transaction changed one first.
func wantRows(res interface{ RowsAffected() (int64, error) }, err error, n int, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, translate(err))
	}
	got, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got != int64(n) {
		return fmt.Errorf("%w: %s: %d of %d keys changed meanwhile", domain.ErrConflict, what, int64(n)-got, n)
	}
	return nil
}
