package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/ports"
)

// SentMail is a ports.SentMailLog on PostgreSQL (table sent_mail).
type SentMail struct{ db *sqlx.DB }

var _ ports.SentMailLog = (*SentMail)(nil)

// NewSentMail returns the log.
func NewSentMail(db *sqlx.DB) *SentMail { return &SentMail{db: db} }

// WasSent reports whether key was recorded; it returns the driver's error
// when the query fails.
func (s *SentMail) WasSent(ctx context.Context, key string) (bool, error) {
	var sent bool
	if err := s.db.GetContext(ctx, &sent, `SELECT EXISTS (SELECT 1 FROM sent_mail WHERE idempotency_key = $1)`, key); err != nil {
		return false, fmt.Errorf("read sent mail %q: %w", key, translate(err))
	}
	return sent, nil
}

// RecordSent records key, keeping the first time; concurrent records of
// one key all succeed. It returns the driver's error when the insert fails.
func (s *SentMail) RecordSent(ctx context.Context, key string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sent_mail (idempotency_key, sent_at) VALUES ($1, $2)
		ON CONFLICT (idempotency_key) DO NOTHING`, key, at); err != nil {
		return fmt.Errorf("record sent mail %q: %w", key, translate(err))
	}
	return nil
}
