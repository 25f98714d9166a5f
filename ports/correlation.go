package ports

import (
	"context"
	"sync/atomic"
)

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

// run is one delivery of a message to a handler, all its tries: the tries
// run one after the other, never at once.
type run struct {
	id    string
	ended atomic.Bool
}

// WithRunID returns ctx carrying id, the name of one delivery of a
// message to a handler, whose tries run one after the other (a broker's
// redelivery, which may overlap it, is another run). A hold a try takes
// under that id (an order's delivery claim) is the next try's own, so
// that a try whose commit went through unseen (a connection lost during
// it) does not leave the next waiting for its own hold to lapse.
func WithRunID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, runKey{}, &run{id: id})
}

// RunID returns the run id ctx carries, "" when none or when the run's
// holds ended (EndRunHolds).
func RunID(ctx context.Context) string {
	if r, _ := ctx.Value(runKey{}).(*run); r != nil && !r.ended.Load() {
		return r.id
	}
	return ""
}

// EndRunHolds has the later tries of ctx's run take holds of their own: a
// hold a try took must now lapse rather than be taken over (a delivery
// email sent under it that the order could not record: taking the claim
// over would send another).
func EndRunHolds(ctx context.Context) {
	if r, _ := ctx.Value(runKey{}).(*run); r != nil {
		r.ended.Store(true)
	}
}
