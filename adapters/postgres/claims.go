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

// Claims is a ports.ClaimRepository on PostgreSQL.
type Claims struct{ db *sqlx.DB }

var _ ports.ClaimRepository = (*Claims)(nil)

// NewClaims returns the repository.
func NewClaims(db *sqlx.DB) *Claims { return &Claims{db: db} }

// claimRow is a row of claims.
type claimRow struct {
	ID        string       `db:"id"`
	OrderID   string       `db:"order_id"`
	ItemID    string       `db:"item_id"`
	Reason    string       `db:"reason"`
	Message   string       `db:"message"`
	CreatedAt time.Time    `db:"created_at"`
	Status    string       `db:"status"`
	DecidedAt sql.NullTime `db:"decided_at"`
	DecidedBy string       `db:"decided_by"`
	Source    string       `db:"source"`
	Note      string       `db:"note"`
	Forced    bool         `db:"forced"`
}

const claimColumns = `id, order_id, item_id, reason, message, created_at, status, decided_at, decided_by, source, note, forced`

func claimToRow(c *domain.Claim) claimRow {
	s := c.Snapshot()
	r := claimRow{ID: s.ID, OrderID: s.OrderID, ItemID: s.ItemID, Reason: s.Reason.String(), Message: s.Message, CreatedAt: s.CreatedAt,
		Status: s.Status.String(), DecidedBy: s.DecidedBy, Source: s.Source.String(), Note: s.Note, Forced: s.Forced}
	if s.DecidedAt != nil {
		r.DecidedAt = sql.NullTime{Time: *s.DecidedAt, Valid: true}
	}
	return r
}

func claimFromRow(r claimRow) (*domain.Claim, error) {
	reason, err := domain.ParseClaimReason(r.Reason)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", r.ID, err)
	}
	status, err := domain.ParseClaimStatus(r.Status)
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", r.ID, err)
	}
	s := domain.ClaimSnapshot{ID: r.ID, OrderID: r.OrderID, ItemID: r.ItemID, Reason: reason, Message: r.Message, CreatedAt: r.CreatedAt.UTC(),
		Status: status, DecidedBy: r.DecidedBy, Note: r.Note, Forced: r.Forced}
	if r.Source != "" {
		if s.Source, err = domain.ParseReplacementSource(r.Source); err != nil {
			return nil, fmt.Errorf("claim %s: %w", r.ID, err)
		}
	}
	if r.DecidedAt.Valid {
		t := r.DecidedAt.Time.UTC()
		s.DecidedAt = &t
	}
	return domain.UnmarshalClaim(s), nil
}

// Create stores c; domain.ErrConflict on a duplicate id or a second open
// claim on the item (claims_one_open_per_item).
func (r *Claims) Create(ctx context.Context, c *domain.Claim) error {
	_, err := sqlx.NamedExecContext(ctx, ext(ctx, r.db), `INSERT INTO claims (`+claimColumns+`) VALUES (:id, :order_id, :item_id,
		:reason, :message, :created_at, :status, :decided_at, :decided_by, :source, :note, :forced)`, claimToRow(c))
	if err != nil {
		return fmt.Errorf("create claim %s: %w", c.ID(), translate(err))
	}
	return nil
}

// Get returns the claim or domain.ErrNotFound.
func (r *Claims) Get(ctx context.Context, id string) (*domain.Claim, error) {
	var row claimRow
	if err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, `SELECT `+claimColumns+` FROM claims WHERE id = $1`, id); err != nil {
		return nil, fmt.Errorf("claim %s: %w", id, translate(err))
	}
	return claimFromRow(row)
}

// Update locks the claim's row, calls fn and saves the claim; fn's error
// is returned unchanged and nothing is saved; domain.ErrNotFound if the
// claim does not exist.
func (r *Claims) Update(ctx context.Context, id string, fn func(*domain.Claim) error) (*domain.Claim, error) {
	return lockedUpdate(ctx, r.db, lockedRow[claimRow, *domain.Claim]{
		what: "claim",
		get:  `SELECT ` + claimColumns + ` FROM claims WHERE id = $1`,
		// Only the decision changes; what the customer said is fixed.
		save: `UPDATE claims SET status = :status, decided_at = :decided_at, decided_by = :decided_by,
			source = :source, note = :note, forced = :forced WHERE id = :id`,
		fromRow: claimFromRow, toRow: func(c *domain.Claim) any { return claimToRow(c) },
	}, id, fn)
}

// List returns claims newest first after q.After, filtered.
func (r *Claims) List(ctx context.Context, q ports.ClaimQuery) ([]*domain.Claim, error) {
	var status, orderID, limit any // NULL: no filter, no limit
	if q.Status != nil {
		status = q.Status.String()
	}
	if q.OrderID != "" {
		orderID = q.OrderID
	}
	if q.Limit > 0 {
		limit = q.Limit
	}
	var rows []claimRow
	if err := sqlx.SelectContext(ctx, ext(ctx, r.db), &rows, `SELECT `+claimColumns+` FROM claims
		WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR order_id = $2) AND ($3 = '' OR id < $3)
		ORDER BY id DESC LIMIT $4`, status, orderID, q.After, limit); err != nil {
		return nil, fmt.Errorf("list claims: %w", translate(err))
	}
	out := make([]*domain.Claim, 0, len(rows))
	for _, row := range rows {
		c, err := claimFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// CountApproved returns how many of the item's claims were approved.
func (r *Claims) CountApproved(ctx context.Context, itemID string) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, ext(ctx, r.db), &n, `SELECT count(*) FROM claims WHERE item_id = $1 AND status = 'approved'`, itemID); err != nil {
		return 0, fmt.Errorf("approved claims of item %s: %w", itemID, translate(err))
	}
	return n, nil
}
