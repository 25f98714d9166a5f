// Package redis holds keyward's Redis adapters: rate limits that every
// instance on one Redis shares (KEYWARD_RATE_LIMIT_STORE=redis).
package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	goredis "github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/ports"
)

// RateLimiter spends budgets kept in Redis by go-redis/redis_rate (GCRA,
// one atomic script per event), so every process on the same Redis and
// prefix spends the same budget. Its keys expire once their budget is
// full again.
type RateLimiter struct {
	lim    *redis_rate.Limiter
	prefix string
}

// NewRateLimiter returns a limiter on client whose keys start with prefix
// (e.g. "keyward:"), so that several deployments can share a Redis.
func NewRateLimiter(client *goredis.Client, prefix string) *RateLimiter {
	return &RateLimiter{lim: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow spends one event of key's budget. It returns an error wrapping
// ports.ErrStorageUnavailable when Redis does not answer.
func (l *RateLimiter) Allow(ctx context.Context, key string, limit ports.RateLimit) (time.Duration, error) {
	if limit.Off() {
		return 0, nil
	}
	// One event per Every, Burst at once: GCRA's emission interval is
	// Period/Rate.
	res, err := l.lim.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: 1, Period: limit.Every, Burst: limit.Burst})
	if err != nil {
		return 0, fmt.Errorf("%w: redis rate limit: %v", ports.ErrStorageUnavailable, err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return max(res.RetryAfter, time.Millisecond), nil
}
