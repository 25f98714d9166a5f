package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// CustomerLinks is a ports.CustomerLinkRepository and a
// ports.CustomerAccessRequests on PostgreSQL.
type CustomerLinks struct {
	db     *sqlx.DB
	outbox Outbox
}

var (
	_ ports.CustomerLinkRepository = (*CustomerLinks)(nil)
	_ ports.CustomerAccessRequests = (*CustomerLinks)(nil)
)

// NewCustomerLinks returns the repository; access requests' events go to
// outbox in the request's transaction.
func NewCustomerLinks(db *sqlx.DB, outbox Outbox) *CustomerLinks {
	return &CustomerLinks{db: db, outbox: outbox}
}

// RequestAccess stores rq and its event in one transaction (the caller's
// when there is one); domain.ErrConflict on a duplicate id.
func (r *CustomerLinks) RequestAccess(ctx context.Context, rq domain.CustomerAccessRequest) error {
	return withTx(ctx, r.db, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO customer_access_requests (id, email, requested_at) VALUES ($1, $2, $3)`,
			rq.ID, rq.Email.String(), rq.RequestedAt.UTC()); err != nil {
			return fmt.Errorf("store access request %s: %w", rq.ID, translate(err))
		}
		if err := r.outbox.PublishTx(ctx, tx.Tx, rq.Event()); err != nil {
			return fmt.Errorf("publish access request %s: %w", rq.ID, err)
		}
		return nil
	})
}

// AccessRequest returns the request or domain.ErrNotFound.
func (r *CustomerLinks) AccessRequest(ctx context.Context, id string) (domain.CustomerAccessRequest, error) {
	var row struct {
		ID          string    `db:"id"`
		Email       string    `db:"email"`
		RequestedAt time.Time `db:"requested_at"`
	}
	err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, `SELECT id, email, requested_at FROM customer_access_requests WHERE id = $1`, id)
	if err != nil {
		return domain.CustomerAccessRequest{}, fmt.Errorf("access request %s: %w", id, translate(err))
	}
	email, err := domain.ParseEmail(row.Email)
	if err != nil {
		return domain.CustomerAccessRequest{}, fmt.Errorf("%w: address of access request %s", domain.ErrInvalidLink, id)
	}
	return domain.CustomerAccessRequest{ID: row.ID, Email: email, RequestedAt: row.RequestedAt.UTC()}, nil
}

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
	return lockedUpdate(ctx, r.db, lockedRow[customerLinkRow, *domain.CustomerLink]{
		what: "sign-in link",
		get:  `SELECT ` + customerLinkColumns + ` FROM customer_links WHERE id = $1`,
		// Only what a link's methods change: its use.
		save:    `UPDATE customer_links SET used_at = :used_at WHERE id = :id`,
		fromRow: customerLinkFromRow, toRow: func(l *domain.CustomerLink) any { return customerLinkToRow(l) },
	}, id, fn)
}

var _ ports.ExpiredLinkPurger = (*CustomerLinks)(nil)

// DeleteExpired removes up to limit sign-in links that expired before
// cutoff, and up to limit access requests made before it; it returns how
// many links.
func (r *CustomerLinks) DeleteExpired(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	res, err := ext(ctx, r.db).ExecContext(ctx, `WITH requests AS (
		DELETE FROM customer_access_requests WHERE id IN (
			SELECT id FROM customer_access_requests WHERE requested_at < $1 ORDER BY requested_at LIMIT $2))
		DELETE FROM customer_links WHERE id IN (
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
