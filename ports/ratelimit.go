package ports

import (
	"context"
	"time"
)

// RateLimit is a budget per key: Burst events at once, given back at one
// per Every. A zero Every or Burst means no limit.
type RateLimit struct {
	Every time.Duration
	Burst int
}

// Off reports whether the limit allows everything.
func (l RateLimit) Off() bool { return l.Every <= 0 || l.Burst <= 0 }

// RateLimiter spends budgets. Processes that share a limiter's store share
// its budgets: two API instances on one store keep one budget per key.
type RateLimiter interface {
	// Allow spends one event of key's budget under limit. It returns 0
	// when the event is allowed, else how long until one would be (at
	// least a millisecond); and an error when the store cannot tell, for
	// the caller to decide whether to let the event through.
	Allow(ctx context.Context, key string, limit RateLimit) (time.Duration, error)
}
