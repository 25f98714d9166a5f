package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AdminKeys is a ports.AdminKeys on PostgreSQL.
type AdminKeys struct{ db *sqlx.DB }

var _ ports.AdminKeys = (*AdminKeys)(nil)

// NewAdminKeys returns the store.
func NewAdminKeys(db *sqlx.DB) *AdminKeys { return &AdminKeys{db: db} }

// adminKeyRow is a row of admin_keys.
type adminKeyRow struct {
	ID        string       `db:"id"`
	Name      string       `db:"name"`
	Role      string       `db:"role"`
	KeyHash   []byte       `db:"key_hash"`
	CreatedAt time.Time    `db:"created_at"`
	RevokedAt sql.NullTime `db:"revoked_at"`
}

const adminKeyColumns = `id, name, role, key_hash, created_at, revoked_at`

func adminKeyToRow(k *domain.AdminKey) adminKeyRow {
	s := k.Snapshot()
	r := adminKeyRow{ID: s.ID, Name: s.Name, Role: s.Role, KeyHash: s.Hash[:], CreatedAt: s.CreatedAt}
	if s.RevokedAt != nil {
		r.RevokedAt = sql.NullTime{Time: *s.RevokedAt, Valid: true}
	}
	return r
}

func adminKeyFromRow(r adminKeyRow) (*domain.AdminKey, error) {
	s := domain.AdminKeySnapshot{ID: r.ID, Name: r.Name, Role: r.Role, CreatedAt: r.CreatedAt.UTC()}
	if len(r.KeyHash) != len(s.Hash) {
		return nil, fmt.Errorf("%w: hash of admin key %s", domain.ErrInvalidAdminKey, r.ID)
	}
	copy(s.Hash[:], r.KeyHash)
	if r.RevokedAt.Valid {
		t := r.RevokedAt.Time.UTC()
		s.RevokedAt = &t
	}
	return domain.UnmarshalAdminKey(s)
}

// Create stores k; domain.ErrConflict if its id or hash exists.
func (s *AdminKeys) Create(ctx context.Context, k *domain.AdminKey) error {
	_, err := s.db.NamedExecContext(ctx, `INSERT INTO admin_keys (`+adminKeyColumns+`)
		VALUES (:id, :name, :role, :key_hash, :created_at, :revoked_at)`, adminKeyToRow(k))
	if err != nil {
		return fmt.Errorf("create admin key %s: %w", k.ID(), translate(err))
	}
	return nil
}

// GetByHash returns the key whose hash is h, or domain.ErrNotFound.
func (s *AdminKeys) GetByHash(ctx context.Context, h domain.TokenHash) (*domain.AdminKey, error) {
	var row adminKeyRow
	err := s.db.GetContext(ctx, &row, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE key_hash = $1`, h[:])
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: admin key", domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get admin key: %w", translate(err))
	}
	return adminKeyFromRow(row)
}

// List returns every key, oldest first.
func (s *AdminKeys) List(ctx context.Context) ([]*domain.AdminKey, error) {
	var rows []adminKeyRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY seq`); err != nil {
		return nil, fmt.Errorf("list admin keys: %w", translate(err))
	}
	out := make([]*domain.AdminKey, 0, len(rows))
	for _, r := range rows {
		k, err := adminKeyFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Update locks the key's row, calls fn and saves the key in one
// transaction; domain.ErrNotFound for an unknown id.
func (s *AdminKeys) Update(ctx context.Context, id string, fn func(*domain.AdminKey) error) (*domain.AdminKey, error) {
	return lockedUpdate(ctx, s.db, lockedRow[adminKeyRow, *domain.AdminKey]{
		what:    "admin key",
		get:     `SELECT ` + adminKeyColumns + ` FROM admin_keys WHERE id = $1`,
		save:    `UPDATE admin_keys SET name = :name, role = :role, revoked_at = :revoked_at WHERE id = :id`,
		fromRow: adminKeyFromRow, toRow: func(k *domain.AdminKey) any { return adminKeyToRow(k) },
	}, id, fn)
}
