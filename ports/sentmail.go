package ports

import (
	"context"
	"time"
)

// SentMailLog remembers which messages went out, by idempotency key, for
// mailers whose service cannot deduplicate (SMTP).
type SentMailLog interface {
	// WasSent reports whether key was recorded.
	WasSent(ctx context.Context, key string) (bool, error)
	// RecordSent records key as sent at. Recording a key again is a no-op
	// (the first time is kept), not an error.
	RecordSent(ctx context.Context, key string, at time.Time) error
}
