package application

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
)

// AuditFilter selects audit records; zero fields do not filter.
type AuditFilter struct {
	From    time.Time // at or after
	To      time.Time // before
	Action  string    // an action ("keys.revealed") or a family ending in "." ("keys.")
	OrderID string    // records whose subject or order_id detail is this order
	// AfterSeq starts EachMatching after this seq (PageMatching takes its
	// own cursor).
	AfterSeq int64
}

// Matches reports whether r passes the filter.
func (f AuditFilter) Matches(r domain.AuditRecord) bool {
	switch {
	case !f.From.IsZero() && r.At.Before(f.From):
		return false
	case !f.To.IsZero() && !r.At.Before(f.To):
		return false
	case f.Action != "" && r.Action != f.Action && !(strings.HasSuffix(f.Action, ".") && strings.HasPrefix(r.Action, f.Action)):
		return false
	case f.OrderID != "" && r.Subject != f.OrderID && r.Details["order_id"] != f.OrderID:
		return false
	}
	return true
}

// EachMatching calls fn, in seq order, for every record f matches. It
// walks the log a page at a time, so an export streams without holding
// the log in memory. It walks the whole log: record times come from the
// clock of whoever appended, so seq order is not guaranteed to be time
// order and the walk cannot stop at f.To.
func (h AuditTrail) EachMatching(ctx context.Context, f AuditFilter, fn func(domain.AuditRecord) error) error {
	after := f.AfterSeq
	for {
		page, err := h.audit.List(ctx, after, 500)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, r := range page {
			if !f.Matches(r) {
				continue
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		after = page[len(page)-1].Seq
	}
}

// PageMatching returns up to limit records after afterSeq that f matches,
// in seq order; it reads on until it has limit of them or the log ends.
// It returns an error when limit is not positive.
func (h AuditTrail) PageMatching(ctx context.Context, f AuditFilter, afterSeq int64, limit int) ([]domain.AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("page audit log: limit %d is not positive", limit)
	}
	var out []domain.AuditRecord
	for len(out) < limit {
		page, err := h.audit.List(ctx, afterSeq, 500)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			if f.Matches(r) {
				out = append(out, r)
				if len(out) == limit {
					break
				}
			}
		}
		afterSeq = page[len(page)-1].Seq
	}
	return out, nil
}

// Validate returns an error wrapping ErrInvalidFilter when From is not
// before To.
func (f AuditFilter) Validate() error {
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return fmt.Errorf("%w: from must be before to", ErrInvalidFilter)
	}
	return nil
}
