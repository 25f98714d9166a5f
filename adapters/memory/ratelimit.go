package memory

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/keyward/keyward/ports"
)

// RateLimiter keeps one token bucket per key in this process and forgets
// the idle ones: the limits of one instance (KEYWARD_RATE_LIMIT_STORE=memory).
type RateLimiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter returns an empty limiter.
func NewRateLimiter() *RateLimiter { return &RateLimiter{buckets: map[string]*bucket{}} }

// Allow spends one event of key's budget; it never fails.
func (l *RateLimiter) Allow(_ context.Context, key string, limit ports.RateLimit) (time.Duration, error) {
	if limit.Off() {
		return 0, nil
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(key, limit, now).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // refused: the event spends nothing
		return max(d, time.Millisecond), nil
	}
	return 0, nil
}

// bucket returns key's bucket, sweeping idle ones now and then; l.mu is
// held.
func (l *RateLimiter) bucket(key string, limit ports.RateLimit, now time.Time) *bucket {
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			// A bucket idle for a whole refill of its burst is full again:
			// forgetting it changes nothing.
			if full := time.Duration(b.lim.Burst()) * time.Duration(float64(time.Second)/float64(b.lim.Limit())); now.Sub(b.seen) > max(full, 10*time.Minute) {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(limit.Every), limit.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b
}
