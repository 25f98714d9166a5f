package ports

import (
	"context"
	"time"
)

// SentMailLog remembers which messages went out, by idempotency key, for
// mailers whose service cannot deduplicate (SMTP).
type SentMailLog interface {
	// WasSent reports whether key was recorded, and whether it was then
	// marked audited (MarkAudited), reading what committed (never through
	// ctx's unit of work).
	WasSent(ctx context.Context, key string) (sent, audited bool, err error)
	// RecordSent records key as sent at. Recording a key again is a no-op
	// (the first time is kept), not an error.
	RecordSent(ctx context.Context, key string, at time.Time) error
	// MarkAudited notes that the audit record of the message sent under
	// key is written, joining ctx's unit of work (Transactor) so that the
	// mark commits with the record or not at all; a key not recorded yet
	// counts as sent from then on. It reports whether this call marked
	// it: false when the key was marked already (its record exists).
	MarkAudited(ctx context.Context, key string, at time.Time) (bool, error)
}
