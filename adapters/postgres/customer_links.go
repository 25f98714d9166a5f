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

// CustomerLinks is a ports.CustomerLinkRepository on PostgreSQL.
type CustomerLinks struct{ db *sqlx.DB }

var _ ports.CustomerLinkRepository = (*CustomerLinks)(nil)

// NewCustomerLinks returns the repository.
func NewCustomerLinks(db *sqlx.DB) *CustomerLinks { return &CustomerLinks{db: db} }

// customerLinkRow is a row of customer_links.
type customerLinkRow struct {
	ID        string       `db:"id"`
	Email     string       `db:"email"`
	TokenHash []byte       `db:"token_hash"`
	CreatedAt time.Time    `db:"created_at"`
	ExpiresAt time.Time    `db:"expires_at"`
	UsedAt    sql.NullTime `db:"used_at"`
}

const customerLinkColumns = `id, email, token_hash, created_at, expires_at, used_at`

func customerLinkToRow(l *domain.CustomerLink) customerLinkRow {
	s := l.Snapshot()
	r := customerLinkRow{ID: s.ID, Email: s.Email.String(), TokenHash: s.TokenHash[:], CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
	if s.UsedAt != nil {
		r.UsedAt = sql.NullTime{Time: *s.UsedAt, Valid: true}
	}
	return r
}

func customerLinkFromRow(r customerLinkRow) (*domain.CustomerLink, error) {
	email, err := domain.ParseEmail(r.Email)
	if err != nil {
		return nil, fmt.Errorf("%w: address of sign-in link %s", domain.ErrInvalidLink, r.ID)
	}
	s := domain.CustomerLinkSnapshot{ID: r.ID, Email: email, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	if len(r.TokenHash) != len(s.TokenHash) {
		return nil, fmt.Errorf("%w: token hash of sign-in link %s", domain.ErrInvalidLink, r.ID)
	}
	copy(s.TokenHash[:], r.TokenHash)
	if r.UsedAt.Valid {
		t := r.UsedAt.Time.UTC()
		s.UsedAt = &t
	}
	return domain.UnmarshalCustomerLink(s), nil
}

// Create stores l; domain.ErrConflict on a duplicate id or token hash.
func (r *CustomerLinks) Create(ctx context.Context, l *domain.CustomerLink) error {
	_, err := sqlx.NamedExecContext(ctx, ext(ctx, r.db), `INSERT INTO customer_links (`+customerLinkColumns+`)
		VALUES (:id, :email, :token_hash, :created_at, :expires_at, :used_at)`, customerLinkToRow(l))
	if err != nil {
		return fmt.Errorf("create sign-in link %s: %w", l.ID(), translate(err))
	}
	return nil
}

// GetByTokenHash returns the link or domain.ErrNotFound.
func (r *CustomerLinks) GetByTokenHash(ctx context.Context, h domain.TokenHash) (*domain.CustomerLink, error) {
	var row customerLinkRow
	err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, `SELECT `+customerLinkColumns+` FROM customer_links WHERE token_hash = $1`, h[:])
	if err != nil {
		return nil, fmt.Errorf("sign-in link by token: %w", translate(err))
	}
	return customerLinkFromRow(row)
}

// Update locks the link's row, calls fn and saves the link; fn's error is
// returned unchanged and nothing is saved; domain.ErrNotFound if the link
// does not exist.
func (r *CustomerLinks) Update(ctx context.Context, id string, fn func(*domain.CustomerLink) error) (*domain.CustomerLink, error) {
	var l *domain.CustomerLink
	err := withTx(ctx, r.db, func(tx *sqlx.Tx) error {
		var row customerLinkRow
		if err := tx.GetContext(ctx, &row, `SELECT `+customerLinkColumns+` FROM customer_links WHERE id = $1 FOR UPDATE`, id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: sign-in link %s", domain.ErrNotFound, id)
			}
			return fmt.Errorf("load sign-in link %s: %w", id, translate(err))
		}
		var err error
		if l, err = customerLinkFromRow(row); err != nil {
			return err
		}
		if err := fn(l); err != nil {
			return err
		}
		// Only what a link's methods change: its use.
		if _, err := tx.NamedExecContext(ctx, `UPDATE customer_links SET used_at = :used_at WHERE id = :id`, customerLinkToRow(l)); err != nil {
			return fmt.Errorf("save sign-in link %s: %w", id, translate(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

var _ ports.ExpiredLinkPurger = (*CustomerLinks)(nil)

// DeleteExpired removes up to limit sign-in links that expired before
// cutoff.
func (r *CustomerLinks) DeleteExpired(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := ext(ctx, r.db).ExecContext(ctx, `DELETE FROM customer_links WHERE id IN (
		SELECT id FROM customer_links WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`, cutoff.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete expired sign-in links: %w", translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sign-in links: %w", err)
	}
	return int(n), nil
}
