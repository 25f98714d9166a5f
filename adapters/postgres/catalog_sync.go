package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SyncRuns is a ports.SyncRunRepository on PostgreSQL.
type SyncRuns struct{ db *sqlx.DB }

var _ ports.SyncRunRepository = (*SyncRuns)(nil)

// NewSyncRuns returns the repository.
func NewSyncRuns(db *sqlx.DB) *SyncRuns { return &SyncRuns{db: db} }

type syncRunRow struct {
	ID           string         `db:"id"`
	Mode         string         `db:"mode"`
	UpdatedSince sql.NullTime   `db:"updated_since"`
	StartedAt    sql.NullTime   `db:"started_at"`
	FinishedAt   sql.NullTime   `db:"finished_at"`
	Status       string         `db:"status"`
	Seen         int            `db:"seen"`
	Created      int            `db:"created"`
	Changed      int            `db:"changed"`
	Deactivated  int            `db:"deactivated"`
	ErrorCount   int            `db:"error_count"`
	Errors       pq.StringArray `db:"errors"`
	Supplier     string         `db:"supplier"`
}

const syncRunColumns = `id, mode, updated_since, started_at, finished_at, status, seen, created, changed, deactivated, error_count, errors, supplier`

func nullTime(t sql.NullTime) (out sql.NullTime) {
	if t.Valid {
		out = sql.NullTime{Time: t.Time.UTC(), Valid: true}
	}
	return out
}

func syncRunFromRow(r syncRunRow) (*domain.SyncRun, error) {
	mode, err := domain.ParseSyncMode(r.Mode)
	if err != nil {
		return nil, err
	}
	status, err := domain.ParseSyncStatus(r.Status)
	if err != nil {
		return nil, err
	}
	return domain.RehydrateSyncRun(domain.SyncRunSnapshot{
		ID: r.ID, Mode: mode, UpdatedSince: nullTime(r.UpdatedSince).Time, StartedAt: nullTime(r.StartedAt).Time,
		FinishedAt: nullTime(r.FinishedAt).Time, Status: status, ErrorCount: r.ErrorCount, Errors: r.Errors, Supplier: r.Supplier,
		Counts: domain.SyncCounts{Seen: r.Seen, Created: r.Created, Changed: r.Changed, Deactivated: r.Deactivated},
	})
}

func orNull(t sql.NullTime) sql.NullTime { return sql.NullTime{Time: t.Time, Valid: !t.Time.IsZero()} }

// Save inserts or replaces a run by id.
func (s *SyncRuns) Save(ctx context.Context, r *domain.SyncRun) error {
	v := r.Snapshot()
	errs := pq.StringArray(v.Errors)
	if errs == nil {
		errs = pq.StringArray{}
	}
	row := syncRunRow{ID: v.ID, Mode: v.Mode.String(), UpdatedSince: orNull(sql.NullTime{Time: v.UpdatedSince}),
		StartedAt: sql.NullTime{Time: v.StartedAt, Valid: true}, FinishedAt: orNull(sql.NullTime{Time: v.FinishedAt}),
		Status: v.Status.String(), Seen: v.Counts.Seen, Created: v.Counts.Created, Changed: v.Counts.Changed,
		Deactivated: v.Counts.Deactivated, ErrorCount: v.ErrorCount, Errors: errs, Supplier: v.Supplier}
	if _, err := sqlx.NamedExecContext(ctx, ext(ctx, s.db), `INSERT INTO catalog_sync_runs (`+syncRunColumns+`)
		VALUES (:id, :mode, :updated_since, :started_at, :finished_at, :status, :seen, :created, :changed, :deactivated,
			:error_count, :errors, :supplier)
		ON CONFLICT (id) DO UPDATE SET finished_at = EXCLUDED.finished_at, status = EXCLUDED.status, seen = EXCLUDED.seen,
			created = EXCLUDED.created, changed = EXCLUDED.changed, deactivated = EXCLUDED.deactivated,
			error_count = EXCLUDED.error_count, errors = EXCLUDED.errors`, row); err != nil {
		return fmt.Errorf("save sync run %s: %w", v.ID, translate(err))
	}
	return nil
}

// List returns up to limit runs, newest first, after the run after (an
// unknown run: nothing).
func (s *SyncRuns) List(ctx context.Context, after string, limit int) ([]*domain.SyncRun, error) {
	return s.list(ctx, nil, after, limit)
}

// ListOf is List among the runs of one supplier.
func (s *SyncRuns) ListOf(ctx context.Context, supplier, after string, limit int) ([]*domain.SyncRun, error) {
	return s.list(ctx, &supplier, after, limit)
}

func (s *SyncRuns) list(ctx context.Context, supplier *string, after string, limit int) ([]*domain.SyncRun, error) {
	var lim any
	if limit > 0 {
		lim = limit
	}
	var rows []syncRunRow
	q := `SELECT ` + syncRunColumns + ` FROM catalog_sync_runs WHERE ($2::text IS NULL OR supplier = $2)
		AND ($3 = '' OR (started_at, id) < (SELECT started_at, id FROM catalog_sync_runs WHERE id = $3))
		ORDER BY started_at DESC, id DESC LIMIT $1`
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &rows, q, lim, supplier, after); err != nil {
		return nil, fmt.Errorf("list sync runs: %w", translate(err))
	}
	out := make([]*domain.SyncRun, 0, len(rows))
	for _, row := range rows {
		r, err := syncRunFromRow(row)
		if err != nil {
			return nil, fmt.Errorf("read sync run %s: %w", row.ID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// LastSucceededOf is LastSucceeded among one supplier's runs (and, with
// unnamed, those that name none).
func (s *SyncRuns) LastSucceededOf(ctx context.Context, supplier string, unnamed bool, mode domain.SyncMode) (*domain.SyncRun, error) {
	var row syncRunRow
	if err := sqlx.GetContext(ctx, ext(ctx, s.db), &row, `SELECT `+syncRunColumns+` FROM catalog_sync_runs
		WHERE mode = $1 AND status = 'succeeded' AND (supplier = $2 OR $3 AND supplier = '')
		ORDER BY started_at DESC, id DESC LIMIT 1`, mode.String(), supplier, unnamed); err != nil {
		return nil, fmt.Errorf("last succeeded %s sync of %s: %w", mode, supplier, translate(err))
	}
	return syncRunFromRow(row)
}

// LastSucceeded returns the latest succeeded run of mode, or
// domain.ErrNotFound.
func (s *SyncRuns) LastSucceeded(ctx context.Context, mode domain.SyncMode) (*domain.SyncRun, error) {
	var row syncRunRow
	if err := sqlx.GetContext(ctx, ext(ctx, s.db), &row, `SELECT `+syncRunColumns+` FROM catalog_sync_runs
		WHERE mode = $1 AND status = 'succeeded' ORDER BY started_at DESC, id DESC LIMIT 1`, mode.String()); err != nil {
		return nil, fmt.Errorf("last succeeded %s sync: %w", mode, translate(err))
	}
	return syncRunFromRow(row)
}

// PricingRules is a ports.PricingRules on PostgreSQL.
type PricingRules struct{ db *sqlx.DB }

var _ ports.PricingRules = (*PricingRules)(nil)

// NewPricingRules returns the repository.
func NewPricingRules(db *sqlx.DB) *PricingRules { return &PricingRules{db: db} }

// Set inserts or replaces the rule of its scope and key.
func (p *PricingRules) Set(ctx context.Context, r domain.MarginRule) error {
	if _, err := ext(ctx, p.db).ExecContext(ctx, `INSERT INTO pricing_rules (scope, key, margin) VALUES ($1, $2, $3)
		ON CONFLICT (scope, key) DO UPDATE SET margin = EXCLUDED.margin`, r.Scope().String(), r.Key(), r.Margin()); err != nil {
		return fmt.Errorf("set %s margin %s: %w", r.Scope(), r.Key(), translate(err))
	}
	return nil
}

// Delete removes a rule.
func (p *PricingRules) Delete(ctx context.Context, scope domain.MarginScope, key string) error {
	if _, err := ext(ctx, p.db).ExecContext(ctx, `DELETE FROM pricing_rules WHERE scope = $1 AND key = $2`, scope.String(), key); err != nil {
		return fmt.Errorf("delete %s margin %s: %w", scope, key, translate(err))
	}
	return nil
}

// List returns every rule by scope then key.
func (p *PricingRules) List(ctx context.Context) ([]domain.MarginRule, error) {
	var rows []struct {
		Scope  string          `db:"scope"`
		Key    string          `db:"key"`
		Margin decimal.Decimal `db:"margin"`
	}
	if err := sqlx.SelectContext(ctx, ext(ctx, p.db), &rows, `SELECT scope, key, margin FROM pricing_rules ORDER BY scope, key`); err != nil {
		return nil, fmt.Errorf("list pricing rules: %w", translate(err))
	}
	out := make([]domain.MarginRule, 0, len(rows))
	for _, r := range rows {
		scope, err := domain.ParseMarginScope(r.Scope)
		if err != nil {
			return nil, err
		}
		rule, err := domain.NewMarginRule(scope, r.Key, r.Margin)
		if err != nil {
			return nil, fmt.Errorf("stored %s margin %s: %w", r.Scope, r.Key, err)
		}
		out = append(out, rule)
	}
	return out, nil
}
