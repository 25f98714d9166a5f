package http

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimits bounds how fast one client may hit the customer-facing
// delivery endpoints (status, reveal, page), per client IP and per link
// token; how fast one source may post webhooks; and how many failed admin
// authentications one source may make. Order placement is not limited
// here: it comes from the shop's own servers, a few IPs for all customers.
// Zero values disable a limit.
type RateLimits struct {
	PerIP    rate.Limit // requests per second per client IP
	IPBurst  int
	PerToken rate.Limit // requests per second per delivery token
	TokBurst int
	// Webhook is per source IP on /v1/webhooks/: a gateway sends a few
	// notifications per payment, a replayed capture sends thousands.
	Webhook      rate.Limit
	WebhookBurst int
	// AdminFailures is per source IP: once its failed admin
	// authentications use up the burst, its admin requests answer 429.
	AdminFailures     rate.Limit
	AdminFailureBurst int
}

// DefaultRateLimits allows a person's clicking and a shop's retries, not a
// scanner: 1 request/s per IP (bursts of 20), 1 per 6 s per link (bursts of
// 10); webhooks 10/s per source (bursts of 50); 10 failed admin
// authentications per source, then one more a minute.
var DefaultRateLimits = RateLimits{
	PerIP: 1, IPBurst: 20, PerToken: rate.Every(6 * time.Second), TokBurst: 10,
	Webhook: 10, WebhookBurst: 50, AdminFailures: rate.Every(time.Minute), AdminFailureBurst: 10,
}

// limiter keeps one token bucket per key and forgets idle ones.
type limiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(l rate.Limit, burst int) *limiter {
	if l <= 0 || burst <= 0 {
		return nil
	}
	return &limiter{limit: l, burst: burst, buckets: map[string]*bucket{}}
}

// allow reports whether key may proceed now, and otherwise how long to wait.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.bucket(key, now).lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// exhausted reports, without spending anything, whether key has no token
// left now, and how long until it has one.
func (l *limiter) exhausted(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.bucket(key, now).lim
	if tokens := lim.TokensAt(now); tokens < 1 {
		return true, time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	}
	return false, 0
}

// spend takes a token from key's bucket if it has one.
func (l *limiter) spend(key string, now time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now).lim.AllowN(now, 1)
}

// bucket returns key's bucket, sweeping idle ones now and then; l.mu is
// held.
func (l *limiter) bucket(key string, now time.Time) *bucket {
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b
}

// rateLimit answers 429 with Retry-After (as problem+json) when a client
// exceeds its budget on the limited routes.
func rateLimit(next http.Handler, limits RateLimits, rejected func(limiter string)) http.Handler {
	byIP, byToken := newLimiter(limits.PerIP, limits.IPBurst), newLimiter(limits.PerToken, limits.TokBurst)
	webhooks := newLimiter(limits.Webhook, limits.WebhookBurst)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/webhooks/") {
			if ok, wait := webhooks.allow("ip:"+clientIP(r.RemoteAddr), time.Now()); !ok {
				rejected("webhook")
				tooMany(w, wait)
				return
			}
		}
		if token, delivery := deliveryToken(r.URL.Path); delivery {
			now := time.Now()
			ok, wait := byIP.allow("ip:"+clientIP(r.RemoteAddr), now)
			limiter := "ip"
			if ok {
				h := sha256.Sum256([]byte(token)) // tokens are secrets: never a map key in clear
				ok, wait = byToken.allow("token:"+hex.EncodeToString(h[:]), now)
				limiter = "token"
			}
			if !ok {
				rejected(limiter)
				tooMany(w, wait)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// deliveryToken extracts the token from /v1/deliveries/{token}[/reveal] and
// /deliver/{token}.
func deliveryToken(path string) (string, bool) {
	for _, prefix := range []string{"/v1/deliveries/", "/deliver/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok && rest != "" {
			tok, _, _ := strings.Cut(rest, "/")
			return tok, true
		}
	}
	return "", false
}

func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"title":"Too Many Requests","status":429,"detail":"slow down and try again after Retry-After seconds"}`))
}
