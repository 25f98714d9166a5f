package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.uber.org/fx"

	khttp "github.com/keyward/keyward/adapters/http"
	"github.com/keyward/keyward/adapters/memory"
	kredis "github.com/keyward/keyward/adapters/redis"
	"github.com/keyward/keyward/ports"
)

// LimitsConfig configures the rate limits' store, the client address they
// key on, and order placement's budgets.
type LimitsConfig struct {
	Store          string   `env:"KEYWARD_RATE_LIMIT_STORE" envDefault:"memory" doc:"where rate-limit budgets are kept: \x60memory\x60 (per process: N instances allow N times the limits) or \x60redis\x60 (shared by every instance on \x60KEYWARD_REDIS_URL\x60)"`
	RedisURL       string   `env:"KEYWARD_REDIS_URL" secret:"url" doc:"Redis for \x60KEYWARD_RATE_LIMIT_STORE=redis\x60, such as \x60redis://127.0.0.1:6379/0\x60 (\x60rediss://\x60 for TLS); unreachable at start: keyward does not start; unreachable later: requests are let through, logged and counted in \x60keyward_rate_limiter_errors_total\x60"`
	TrustedProxies []string `env:"KEYWARD_TRUSTED_PROXIES" doc:"comma-separated CIDRs (or addresses) of the proxies in front of keyward; \x60X-Forwarded-For\x60 is believed only from them, its right-most address outside them being the client. Unset: never believed, the peer is the client"`
	OrdersSource   Rate     `env:"KEYWARD_ORDER_RATE_LIMIT_PER_SOURCE" envDefault:"600/1m" doc:"orders one client address may place: \x60N/DURATION\x60 allows N at once, given back evenly over DURATION; \x60off\x60: no limit. The default lets a shop's own servers (a few addresses for every customer) place 10 orders a second, bursts of 600; over it: \x60429\x60 with \x60Retry-After\x60"`
	OrdersEmail    Rate     `env:"KEYWARD_ORDER_RATE_LIMIT_PER_EMAIL" envDefault:"5/10m" doc:"orders for one recipient (case-folded, \x60+tag\x60 removed), in the form of \x60KEYWARD_ORDER_RATE_LIMIT_PER_SOURCE\x60: by default 5 at once, then one every 2 minutes, so keyward cannot be made to flood a mailbox"`
}

// Rate is a budget written N/DURATION (N events at once, given back evenly
// over DURATION), or off.
type Rate struct{ ports.RateLimit }

// UnmarshalText reads "600/1m", "5/10m", "10/s" or "off" (also "0").
func (r *Rate) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "off" || s == "0" {
		*r = Rate{}
		return nil
	}
	n, per, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 1 {
		return errors.New("N/DURATION such as 600/1m, or off")
	}
	if per == "s" || per == "m" || per == "h" {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 || d/time.Duration(count) <= 0 {
		return errors.New("N/DURATION such as 600/1m, or off")
	}
	*r = Rate{ports.RateLimit{Every: d / time.Duration(count), Burst: count}}
	return nil
}

// String writes r the way it is read.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	per := (r.Every * time.Duration(r.Burst)).String() // 10m0s
	if strings.HasSuffix(per, "m0s") {
		per = strings.TrimSuffix(per, "0s")
	}
	if strings.HasSuffix(per, "h0m") {
		per = strings.TrimSuffix(per, "0m")
	}
	return strconv.Itoa(r.Burst) + "/" + per
}

func (c LimitsConfig) validate() error {
	switch c.Store {
	case "memory":
	case "redis":
		if c.RedisURL == "" {
			return fmt.Errorf("KEYWARD_RATE_LIMIT_STORE=redis needs KEYWARD_REDIS_URL (such as redis://127.0.0.1:6379/0)")
		}
	default:
		return fmt.Errorf("KEYWARD_RATE_LIMIT_STORE must be memory or redis, not %q", c.Store)
	}
	_, err := c.trustedProxies()
	return err
}

// trustedProxies parses KEYWARD_TRUSTED_PROXIES; a bare address stands for
// itself alone.
func (c LimitsConfig) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("KEYWARD_TRUSTED_PROXIES: %q is neither a CIDR (10.0.0.0/8) nor an address", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// rateLimits are the HTTP limits cfg asks for. KEYWARD_DELIVERY_RATE_LIMIT
// switches the built-in ones (delivery, failed webhooks, failed admin
// authentications); order placement has its own settings.
func rateLimits(cfg Config) *khttp.RateLimits {
	l := khttp.RateLimits{OrdersPerSource: cfg.Limits.OrdersSource.RateLimit, OrdersPerEmail: cfg.Limits.OrdersEmail.RateLimit,
		CustomerAccessPerSource: cfg.Customer.CustomerAccessSource.RateLimit, CustomerAccessPerEmail: cfg.Customer.CustomerAccessEmail.RateLimit}
	if cfg.DeliveryRateLimit {
		d := khttp.DefaultRateLimits
		l.DeliveryIP, l.DeliveryToken, l.WebhookFailures, l.AdminFailures = d.DeliveryIP, d.DeliveryToken, d.WebhookFailures, d.AdminFailures
	}
	return &l
}

// redisPrefix starts every key keyward keeps in Redis.
const redisPrefix = "keyward:ratelimit:"

// newRateLimiter is the store KEYWARD_RATE_LIMIT_STORE names. A Redis that
// does not answer stops the start with one line naming KEYWARD_REDIS_URL.
func newRateLimiter(lc fx.Lifecycle, cfg Config, log *slog.Logger) (ports.RateLimiter, error) {
	if cfg.Limits.Store != "redis" {
		return memory.NewRateLimiter(), nil
	}
	useRedisLog(log)
	client, err := kredis.Connect(context.Background(), "KEYWARD_REDIS_URL", cfg.Limits.RedisURL, 5*time.Second)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error { return client.Close() }})
	log.Info("rate limits shared through redis", "redis", kredis.Masked(cfg.Limits.RedisURL))
	return kredis.NewRateLimiter(client, redisPrefix), nil
}
