package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditLog is a ports.AuditLog in memory. Every record carries its MAC
// under mac, from the first one: there is no earlier trail to adopt.
type AuditLog struct {
	clock   ports.Clock
	mac     ports.AuditMAC
	mu      sync.Mutex
	records []domain.AuditRecord // records[i].Seq == i+1
}

var _ ports.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns an empty log that stamps records with clock and
// MACs them with mac.
func NewAuditLog(clock ports.Clock, mac ports.AuditMAC) *AuditLog {
	return &AuditLog{clock: clock, mac: mac}
}

// Append chains a record after the last one under the log's lock, so
// concurrent appends line up. It takes part in ctx's unit of work
// (Transactor): undone when that fails, while still the last record. An
// error wraps domain.ErrInvalidAuditRecord, or is the MAC's when its key
// cannot be loaded.
func (l *AuditLog) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
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
	if r.MAC, err = l.mac.Sign(ctx, domain.AuditMACInput(r)); err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	l.records = append(l.records, r)
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() { l.drop(r.Seq) })
	}
	return copyAuditRecord(r), nil
}

// drop takes back the record seq of a unit of work that failed, as
// Postgres does its row, while it is still the last one; a record chained
// after it since stays, and so does it. The slice is clipped so that the
// next record never overwrites what a Verify still reads.
func (l *AuditLog) drop(seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.records); n > 0 && l.records[n-1].Seq == seq {
		l.records = slices.Clip(l.records[:n-1])
	}
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

// Verify checks the whole chain and every MAC; see ports.AuditLog.
func (l *AuditLog) Verify(ctx context.Context) (int, error) {
	l.mu.Lock()
	records := l.records[:len(l.records):len(l.records)] // stored records never change
	l.mu.Unlock()
	v := domain.NewAuditTrailVerifier(func(msg []byte, mac string) (bool, error) { return l.mac.Verify(ctx, msg, mac) })
	if err := v.Next(records); err != nil {
		return v.Verified(), err
	}
	return v.Done()
}

func copyAuditRecord(r domain.AuditRecord) domain.AuditRecord {
	r.Details = maps.Clone(r.Details)
	return r
}
