package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Revelations is a ports.RevelationLog on PostgreSQL: append-only.
type Revelations struct{ db *sqlx.DB }

var _ ports.RevelationLog = (*Revelations)(nil)

// NewRevelations returns the log.
func NewRevelations(db *sqlx.DB) *Revelations { return &Revelations{db: db} }

// revelationRow is a row of key_revelations.
type revelationRow struct {
	ID        string    `db:"id"`
	OrderID   string    `db:"order_id"`
	ItemID    string    `db:"item_id"`
	LinkID    string    `db:"link_id"`
	Email     string    `db:"email"`
	IP        string    `db:"ip"`
	UserAgent string    `db:"user_agent"`
	At        time.Time `db:"at"`
	First     bool      `db:"first"`
}

// revelationToRow maps a revelation to its row.
func revelationToRow(rv domain.KeyRevelation) revelationRow {
	s := rv.Snapshot()
	return revelationRow{
		ID: s.ID, OrderID: s.OrderID, ItemID: s.ItemID, LinkID: s.LinkID, Email: s.Email.String(),
		IP: s.IP, UserAgent: s.UserAgent, At: s.At, First: s.First,
	}
}

// revelationFromRow returns domain.ErrInvalidEmail or
// domain.ErrInvalidRevelation for a row the domain would never write.
func revelationFromRow(r revelationRow) (domain.KeyRevelation, error) {
	email, err := domain.ParseEmail(r.Email)
	if err != nil {
		return domain.KeyRevelation{}, err
	}
	return domain.UnmarshalKeyRevelation(domain.KeyRevelationSnapshot{
		ID: r.ID, OrderID: r.OrderID, ItemID: r.ItemID, LinkID: r.LinkID, Email: email,
		IP: r.IP, UserAgent: r.UserAgent, At: r.At.UTC(), First: r.First,
	})
}

const revelationColumns = `id, order_id, item_id, link_id, email, ip, user_agent, at, first`

// Append stores rs in one transaction, all or none; domain.ErrConflict on
// a duplicate id.
func (r *Revelations) Append(ctx context.Context, rs ...domain.KeyRevelation) error {
	if len(rs) == 0 {
		return nil
	}
	rows := make([]revelationRow, len(rs))
	for i, rv := range rs {
		rows[i] = revelationToRow(rv)
	}
	// A single multi-row INSERT is atomic, and its rows take their seq (the
	// listing order) in slice order.
	if _, err := sqlx.NamedExecContext(ctx, ext(ctx, r.db), `INSERT INTO key_revelations (`+revelationColumns+`)
		VALUES (:id, :order_id, :item_id, :link_id, :email, :ip, :user_agent, :at, :first)`, rows); err != nil {
		return fmt.Errorf("append revelations: %w", translate(err))
	}
	return nil
}

// ListByOrder returns the order's revelations, oldest first.
func (r *Revelations) ListByOrder(ctx context.Context, orderID string) ([]domain.KeyRevelation, error) {
	var rows []revelationRow
	if err := sqlx.SelectContext(ctx, ext(ctx, r.db), &rows, `SELECT `+revelationColumns+` FROM key_revelations
		WHERE order_id = $1 ORDER BY seq`, orderID); err != nil {
		return nil, fmt.Errorf("list revelations of order %s: %w", orderID, translate(err))
	}
	out := make([]domain.KeyRevelation, len(rows))
	for i, row := range rows {
		rv, err := revelationFromRow(row)
		if err != nil {
			return nil, fmt.Errorf("read revelation %s: %w", row.ID, err)
		}
		out[i] = rv
	}
	return out, nil
}
