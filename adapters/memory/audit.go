package memory

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditLog is a ports.AuditLog in memory.
type AuditLog struct {
	clock   ports.Clock
	mu      sync.Mutex
	records []domain.AuditRecord // records[i].Seq == i+1
}

var _ ports.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an empty log that stamps records with clock.
func NewAuditLog(clock ports.Clock) *AuditLog { return &AuditLog{clock: clock} }

// Append chains a record after the last one under the log's lock, so
// concurrent appends line up; an error wraps domain.ErrInvalidAuditRecord.
func (l *AuditLog) Append(_ context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	r, err := domain.NewAuditRecord(actor, action, subject, details)
	if err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := domain.GenesisAuditHash
	if n := len(l.records); n > 0 {
		prev = l.records[n-1].Hash
	}
	r.Seq, r.At = int64(len(l.records))+1, l.clock.Now()
	r = domain.ChainAuditRecord(prev, r)
	l.records = append(l.records, r)
	return copyAuditRecord(r), nil
}

// List returns up to limit records after afterSeq, in seq order.
func (l *AuditLog) List(_ context.Context, afterSeq int64, limit int) ([]domain.AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list audit log: limit %d is not positive", limit)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	from := min(max(afterSeq, 0), int64(len(l.records)))
	page := l.records[from:]
	page = page[:min(limit, len(page))]
	out := make([]domain.AuditRecord, len(page))
	for i, r := range page {
		out[i] = copyAuditRecord(r)
	}
	return out, nil
}

// Verify checks the whole chain; see ports.AuditLog.
func (l *AuditLog) Verify(_ context.Context) (int, error) {
	l.mu.Lock()
	records := l.records[:len(l.records):len(l.records)] // stored records never change
	l.mu.Unlock()
	return domain.VerifyAuditChain(records, domain.GenesisAuditHash)
}

func copyAuditRecord(r domain.AuditRecord) domain.AuditRecord {
	r.Details = maps.Clone(r.Details)
	return r
}
