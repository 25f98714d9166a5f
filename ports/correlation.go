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
