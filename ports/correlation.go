package ports

import "context"

type correlationKey struct{}

// WithCorrelationID returns ctx carrying id, the correlation id that ties
// an HTTP request to the messages and log lines it causes.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the correlation id ctx carries, "" when none.
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

type runKey struct{}

// WithRunID returns ctx carrying id, the name of one piece of work that
// may be tried more than once (a message's handling: its retries and its
// redeliveries carry the same id). A hold it takes under that id (an
// order's delivery claim) is its own again when it is tried again, so
// that a try whose commit went through unseen (a connection lost during
// it) does not leave the next try waiting for its own hold to lapse.
func WithRunID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, runKey{}, id)
}

// RunID returns the run id ctx carries, "" when none.
func RunID(ctx context.Context) string {
	id, _ := ctx.Value(runKey{}).(string)
	return id
}
