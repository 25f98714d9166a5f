package ports

import (
	"context"
	"time"
)

// IdempotencyKeys remembers which order a client's Idempotency-Key made,
// so that a retried POST /v1/orders returns that order instead of a second
// one. Keys are stored hashed.
type IdempotencyKeys interface {
	// Remember records that key, for a request with fingerprint, made
	// orderID. It joins the caller's unit of work (Transactor), so the
	// key and the order commit together. It returns domain.ErrConflict
	// when key is already recorded.
	Remember(ctx context.Context, key, fingerprint, orderID string, at time.Time) error
	// Lookup returns the order id and request fingerprint recorded for
	// key, or domain.ErrNotFound.
	Lookup(ctx context.Context, key string) (orderID, fingerprint string, err error)
}

// DeadLetter is a message the pipeline gave up on: its topic, the order it
// concerns, why, and the message itself so that it can be replayed.
type DeadLetter struct {
	ID         string
	Topic      string
	OrderID    string
	Reason     string
	Attempts   int
	Payload    []byte
	Metadata   map[string]string
	CreatedAt  time.Time
	ReplayedAt *time.Time
}

// DeadLetterQuery filters and pages dead letters, oldest first.
type DeadLetterQuery struct {
	Topic   string // exact topic; empty: any
	OrderID string // empty: any
	After   string // id of the last letter of the previous page
	Limit   int
}

// DeadLetters stores the dead letters an operator works through.
type DeadLetters interface {
	// Add stores a letter; domain.ErrConflict on a duplicate id.
	Add(ctx context.Context, l DeadLetter) error
	// List returns letters matching q, ordered by id.
	List(ctx context.Context, q DeadLetterQuery) ([]DeadLetter, error)
	// Get returns a letter or domain.ErrNotFound.
	Get(ctx context.Context, id string) (DeadLetter, error)
	// MarkReplayed records the first replay of a letter and reports
	// whether this call was it (false: it was replayed before). It joins
	// the caller's unit of work; domain.ErrNotFound for an unknown id.
	MarkReplayed(ctx context.Context, id string, at time.Time) (bool, error)
	// Delete removes a letter; domain.ErrNotFound for an unknown id.
	Delete(ctx context.Context, id string) error
	// Count returns how many letters wait for an operator (not replayed
	// yet): the dead-letter gauge an operator alerts on.
	Count(ctx context.Context) (int, error)
}

// MessageRequeue hands a dead letter's message back to its topic.
type MessageRequeue interface {
	// Requeue publishes payload with metadata on topic; an error means
	// nothing was published.
	Requeue(ctx context.Context, topic string, payload []byte, metadata map[string]string) error
}

// ExpiredLinkPurger is what a DeliveryLinkRepository offers to delete links
// long expired (the token hash has nothing left to open; the revelation
// log keeps its own record of every reveal).
type ExpiredLinkPurger interface {
	// DeleteExpired removes up to limit links that expired before cutoff
	// and returns how many it removed.
	DeleteExpired(ctx context.Context, cutoff time.Time, limit int) (int, error)
}
