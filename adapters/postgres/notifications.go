package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/ports"
)

// Notifications is a ports.PaymentNotificationLog on PostgreSQL.
type Notifications struct{ db *sqlx.DB }

var _ ports.PaymentNotificationLog = (*Notifications)(nil)

// NewNotifications returns the log.
func NewNotifications(db *sqlx.DB) *Notifications { return &Notifications{db: db} }

// notificationRow is a row of payment_notifications.
type notificationRow struct {
	Provider   string    `db:"provider"`
	PaymentID  string    `db:"payment_id"`
	Status     string    `db:"status"`
	OrderID    string    `db:"order_id"`
	BodySHA256 []byte    `db:"body_sha256"`
	Body       []byte    `db:"body"`
	ReceivedAt time.Time `db:"received_at"`
}

// Record stores n unless the same provider, payment id, status and body
// hash are stored; it reports whether n was new. Concurrent duplicates are
// settled by the unique constraint: exactly one of them reports true.
func (r *Notifications) Record(ctx context.Context, n ports.PaymentNotification) (bool, error) {
	row := notificationRow{
		Provider: n.Provider, PaymentID: n.PaymentID, Status: n.Status, OrderID: n.OrderID,
		BodySHA256: n.BodySHA256[:], Body: n.Body, ReceivedAt: n.ReceivedAt,
	}
	if row.Body == nil {
		row.Body = []byte{} // lib/pq sends a nil slice as NULL
	}
	res, err := sqlx.NamedExecContext(ctx, ext(ctx, r.db), `INSERT INTO payment_notifications (provider, payment_id, status,
		order_id, body_sha256, body, received_at) VALUES (:provider, :payment_id, :status, :order_id,
		:body_sha256, :body, :received_at)
		ON CONFLICT (provider, payment_id, status, body_sha256) DO NOTHING`, row)
	if err != nil {
		return false, fmt.Errorf("record payment notification %s/%s: %w", n.Provider, n.PaymentID, translate(err))
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record payment notification %s/%s: %w", n.Provider, n.PaymentID, err)
	}
	return inserted == 1, nil
}

// ListByOrder returns the order's notifications, oldest first.
func (r *Notifications) ListByOrder(ctx context.Context, orderID string) ([]ports.PaymentNotification, error) {
	var rows []notificationRow
	if err := r.db.SelectContext(ctx, &rows, `SELECT provider, payment_id, status, order_id, body_sha256, body, received_at
		FROM payment_notifications WHERE order_id = $1 ORDER BY id`, orderID); err != nil {
		return nil, fmt.Errorf("list payment notifications of order %s: %w", orderID, translate(err))
	}
	out := make([]ports.PaymentNotification, 0, len(rows))
	for _, row := range rows {
		n := ports.PaymentNotification{Provider: row.Provider, PaymentID: row.PaymentID, Status: row.Status,
			OrderID: row.OrderID, Body: row.Body, ReceivedAt: row.ReceivedAt.UTC()}
		copy(n.BodySHA256[:], row.BodySHA256)
		out = append(out, n)
	}
	return out, nil
}
