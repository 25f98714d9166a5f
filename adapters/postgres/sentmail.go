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

// MarkAudited marks key audited in ctx's unit of work, in one statement:
// a row of sent_mail_audited (not a column of sent_mail, whose row the
// mailer commits apart: the mark, made in a consumer's transaction, would
// hold that row's lock until the consumer's batch commits). A marked key
// counts as sent. It
// reports whether this call marked it and returns the driver's error when
// the statement fails.
func (s *SentMail) MarkAudited(ctx context.Context, key string, _ time.Time) (bool, error) {
	var marked []bool
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &marked, `INSERT INTO sent_mail_audited (idempotency_key) VALUES ($1)
		ON CONFLICT (idempotency_key) DO NOTHING RETURNING true`, key); err != nil {
		return false, fmt.Errorf("mark sent mail %q audited: %w", key, translate(err))
	}
	return len(marked) == 1, nil
}

// WasSent reports whether key was recorded and marked audited, on a
// connection of its own; it returns the driver's error when the query
// fails.
func (s *SentMail) WasSent(ctx context.Context, key string) (sent, audited bool, err error) {
	var row struct {
		Sent    bool `db:"sent"`
		Audited bool `db:"audited"`
	}
	if err := s.db.GetContext(ctx, &row, `SELECT EXISTS (SELECT 1 FROM sent_mail WHERE idempotency_key = $1) AS sent,
		EXISTS (SELECT 1 FROM sent_mail_audited WHERE idempotency_key = $1) AS audited`, key); err != nil {
		return false, false, fmt.Errorf("read sent mail %q: %w", key, translate(err))
	}
	return row.Sent || row.Audited, row.Audited, nil
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
