package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditTrail reads and verifies the audit log for operators.
type AuditTrail struct {
	audit ports.AuditLog
}

// NewAuditTrail wires AuditTrail; it panics when a dependency is nil.
func NewAuditTrail(audit ports.AuditLog) AuditTrail {
	require("AuditTrail", "audit", audit)
	return AuditTrail{audit: audit}
}

// Page returns up to limit records after afterSeq.
func (h AuditTrail) Page(ctx context.Context, afterSeq int64, limit int) ([]domain.AuditRecord, error) {
	return h.audit.List(ctx, afterSeq, limit)
}

// Each calls fn for every record in order, a page at a time, so an export
// never holds the whole log in memory.
func (h AuditTrail) Each(ctx context.Context, fn func(domain.AuditRecord) error) error {
	var after int64
	for {
		page, err := h.audit.List(ctx, after, 500)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, r := range page {
			if err := fn(r); err != nil {
				return err
			}
		}
		after = page[len(page)-1].Seq
	}
}

// Verify checks the whole chain; see ports.AuditLog.Verify.
func (h AuditTrail) Verify(ctx context.Context) (int, error) { return h.audit.Verify(ctx) }
