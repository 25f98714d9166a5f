package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/ports"
)

// SupplierEventMarks is a ports.SupplierEventMarks on PostgreSQL.
type SupplierEventMarks struct{ db *sqlx.DB }

var _ ports.SupplierEventMarks = (*SupplierEventMarks)(nil)

// NewSupplierEventMarks returns the marks.
func NewSupplierEventMarks(db *sqlx.DB) *SupplierEventMarks { return &SupplierEventMarks{db: db} }

// Advance records at for entity unless a later time is recorded, in one
// statement (concurrent notices settle on the row), and reports false for
// a notice older than the recorded time.
func (m *SupplierEventMarks) Advance(ctx context.Context, entity string, at time.Time) (bool, error) {
	var fresh bool
	err := m.db.GetContext(ctx, &fresh, `INSERT INTO supplier_event_marks AS m (entity, updated_at) VALUES ($1, $2)
		ON CONFLICT (entity) DO UPDATE SET updated_at = greatest(m.updated_at, EXCLUDED.updated_at)
		RETURNING m.updated_at <= $2`, entity, at.UTC())
	if err != nil {
		return false, fmt.Errorf("advance supplier event mark %s: %w", entity, translate(err))
	}
	return fresh, nil
}
