package http

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/ports"
)

// RateLimits are the budgets of the limited requests, each per key; a zero
// ports.RateLimit turns its limit off. Every one is keyed on clientIP, the
// one client-address function, or on something the request names.
type RateLimits struct {
	// DeliveryIP and DeliveryToken bound the delivery endpoints (status,
	// reveal, page) per client address and per link token.
	DeliveryIP    ports.RateLimit
	DeliveryToken ports.RateLimit
	// WebhookFailures bounds, per source, the webhooks that fail
	// verification: a correctly signed notification is never limited (a
	// sale is a burst of them), a replayed capture or a guesser is.
	WebhookFailures ports.RateLimit
	// AdminFailures bounds, per source, failed admin authentications; a
	// valid key is never refused by it.
	AdminFailures ports.RateLimit
	// OrdersPerSource and OrdersPerEmail bound order placement per client
	// address and per recipient (canonicalEmail): a script must not mail
	// a victim thirty orders.
	OrdersPerSource ports.RateLimit
	OrdersPerEmail  ports.RateLimit
	// CustomerAccessPerSource and CustomerAccessPerEmail bound the
	// sign-in links asked for (POST /v1/customer/access and the account
	// page) per client address and per address asked for, whether or not
	// it has orders.
	CustomerAccessPerSource ports.RateLimit
	CustomerAccessPerEmail  ports.RateLimit
}

// DefaultRateLimits allows a person's clicking, a shop's retries and a
// sale's bursts, not a scanner: delivery 1 request/s per address (bursts
// of 20) and 1 per 6 s per link (bursts of 10); 20 failed webhooks per
// source, then one a second; 10 failed admin authentications per source,
// then one a minute; orders as bootstrap's defaults (600 per source at
// once, then 10/s; 5 per recipient, then one every 2 minutes); sign-in
// links as bootstrap's too (20 per source, then one every 30 s; 3 per
// address, then one every 10 minutes).
var DefaultRateLimits = RateLimits{
	DeliveryIP:              ports.RateLimit{Every: time.Second, Burst: 20},
	DeliveryToken:           ports.RateLimit{Every: 6 * time.Second, Burst: 10},
	WebhookFailures:         ports.RateLimit{Every: time.Second, Burst: 20},
	AdminFailures:           ports.RateLimit{Every: time.Minute, Burst: 10},
	OrdersPerSource:         ports.RateLimit{Every: 100 * time.Millisecond, Burst: 600},
	OrdersPerEmail:          ports.RateLimit{Every: 2 * time.Minute, Burst: 5},
	CustomerAccessPerSource: ports.RateLimit{Every: 30 * time.Second, Burst: 20},
	CustomerAccessPerEmail:  ports.RateLimit{Every: 10 * time.Minute, Burst: 3},
}

// anyOn reports whether some limit is on.
func (l RateLimits) anyOn() bool {
	for _, r := range []ports.RateLimit{l.DeliveryIP, l.DeliveryToken, l.WebhookFailures, l.AdminFailures, l.OrdersPerSource, l.OrdersPerEmail, l.CustomerAccessPerSource, l.CustomerAccessPerEmail} {
		if !r.Off() {
			return true
		}
	}
	return false
}

// overLimit spends one event of key's budget in the limiter name and
// reports whether the request is over it, and how long to wait. When the
// limiter's store cannot answer, the request goes through (fail open):
// every limit here either protects a customer's request (orders,
// deliveries), which an outage of the limiter must not refuse, or only
// turns an already refused request's 401 into a 429 (failed webhooks and
// admin authentications), which refuses nothing more. The outage is
// logged and counted.
func (s *Server) overLimit(ctx context.Context, name, key string, limit ports.RateLimit) (time.Duration, bool) {
	if limit.Off() {
		return 0, false
	}
	wait, err := s.limiter.Allow(ctx, name+":"+key, limit)
	if err != nil {
		s.opts.OnLimiterError(name)
		s.log.WarnContext(ctx, "rate limit unavailable, request let through", "limiter", name, "err", bounded(err))
		return 0, false
	}
	if wait > 0 {
		s.opts.OnRateLimited(name)
		return wait, true
	}
	return 0, false
}

// limitDeliveries answers 429 with Retry-After (as problem+json) when a
// client exceeds its budget on the delivery endpoints, per address, then
// per link.
func (s *Server) limitDeliveries(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token, delivery := deliveryToken(r.URL.Path); delivery {
			ctx := r.Context()
			wait, over := s.overLimit(ctx, "ip", clientIP(ctx), s.limits.DeliveryIP)
			if !over {
				h := sha256.Sum256([]byte(token)) // tokens are secrets: never a key in clear
				wait, over = s.overLimit(ctx, "token", hex.EncodeToString(h[:]), s.limits.DeliveryToken)
			}
			if over {
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

// retryAfterSeconds is wait as Retry-After: whole seconds, at least one.
func retryAfterSeconds(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// tooManyError is a 429 problem with Retry-After, for Huma operations.
func tooManyError(wait time.Duration, detail string) error {
	return huma.ErrorWithHeaders(huma.NewError(http.StatusTooManyRequests, detail), http.Header{"Retry-After": {retryAfterSeconds(wait)}})
}

// tooMany writes a 429 problem with Retry-After outside Huma.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfterSeconds(wait))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"title":"Too Many Requests","status":429,"detail":"slow down and try again after Retry-After seconds"}`))
}
