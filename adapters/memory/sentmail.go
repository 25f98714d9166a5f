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
}

var _ ports.SentMailLog = (*SentMail)(nil)

// NewSentMail returns an empty log.
func NewSentMail() *SentMail { return &SentMail{sent: map[string]time.Time{}} }

// WasSent reports whether key was recorded; it never fails.
func (s *SentMail) WasSent(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sent[key]
	return ok, nil
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
