package memory

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward/ports"
)

// SentMail is a ports.SentMailLog in memory: it forgets on restart, which
// an in-memory deployment forgets anyway.
type SentMail struct {
	mu   sync.Mutex
	sent map[string]time.Time
	// audited holds the keys whose audit record is written.
	audited map[string]bool
}

var _ ports.SentMailLog = (*SentMail)(nil)

// NewSentMail returns an empty log.
func NewSentMail() *SentMail {
	return &SentMail{sent: map[string]time.Time{}, audited: map[string]bool{}}
}

// WasSent reports whether key was recorded and marked audited; it never
// fails.
func (s *SentMail) WasSent(_ context.Context, key string) (sent, audited bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sent[key]
	return ok, s.audited[key], nil
}

// RecordSent records key, keeping the first time; it never fails.
func (s *SentMail) RecordSent(_ context.Context, key string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sent[key]; !ok {
		s.sent[key] = at
	}
	return nil
}

// MarkAudited marks key audited (recording it sent at when it is not yet)
// and reports whether this call marked it; it never fails. The mark takes
// part in ctx's unit of work (Transactor): undone when it fails.
func (s *SentMail) MarkAudited(ctx context.Context, key string, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.audited[key] {
		return false, nil
	}
	_, wasSent := s.sent[key]
	if !wasSent {
		s.sent[key] = at
	}
	s.audited[key] = true
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(s.audited, key)
			if !wasSent {
				delete(s.sent, key) // as the mark's own row on Postgres
			}
		})
	}
	return true, nil
}
