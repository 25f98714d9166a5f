package bootstrap

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/bench"
	"github.com/keyward/keyward/ports"
)

// lookupOf is a configuration lookup over m.
// TestOrderRateSettings: N/DURATION reads as N at once given back over
// DURATION, off turns the limit off, anything else names the variable.
func TestOrderRateSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, shown string
		want      ports.RateLimit
	}{
		{"600/1m", "600/1m", ports.RateLimit{Every: 100 * time.Millisecond, Burst: 600}},
		{"5/10m", "5/10m", ports.RateLimit{Every: 2 * time.Minute, Burst: 5}},
		{"10/s", "10/1s", ports.RateLimit{Every: 100 * time.Millisecond, Burst: 10}},
		{"100/2h", "100/2h", ports.RateLimit{Every: 72 * time.Second, Burst: 100}},
		{"off", "off", ports.RateLimit{}},
		{"0", "off", ports.RateLimit{}},
	} {
		cfg, err := LoadConfig(lookupOf(map[string]string{"KEYWARD_ORDER_RATE_LIMIT_PER_EMAIL": c.in}))
		if err != nil || cfg.Limits.OrdersEmail.RateLimit != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.in, cfg.Limits.OrdersEmail.RateLimit, err, c.want)
		}
		if shown := cfg.Limits.OrdersEmail.String(); shown != c.shown {
			t.Errorf("%q is shown as %q, want %q", c.in, shown, c.shown)
		}
	}
	for _, bad := range []string{"abc", "5", "-1/1m", "5/", "5/-1m", "5/xyz"} {
		_, err := LoadConfig(lookupOf(map[string]string{"KEYWARD_ORDER_RATE_LIMIT_PER_SOURCE": bad}))
		if err == nil || !strings.Contains(err.Error(), "KEYWARD_ORDER_RATE_LIMIT_PER_SOURCE") {
			t.Errorf("%q: %v, want an error naming the variable", bad, err)
		}
	}
}

// TestRateLimitStoreSettings: redis needs its URL; the store and proxies
// are validated with the rest of the configuration.
func TestRateLimitStoreSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env     map[string]string
		wantErr string
	}{
		{map[string]string{"KEYWARD_RATE_LIMIT_STORE": "redis"}, "KEYWARD_REDIS_URL"},
		{map[string]string{"KEYWARD_RATE_LIMIT_STORE": "memcached"}, "KEYWARD_RATE_LIMIT_STORE"},
		{map[string]string{"KEYWARD_TRUSTED_PROXIES": "10.0.0.0/8, proxy.example"}, "KEYWARD_TRUSTED_PROXIES"},
		{map[string]string{"KEYWARD_RATE_LIMIT_STORE": "redis", "KEYWARD_REDIS_URL": "redis://127.0.0.1:6379/0"}, ""},
	} {
		_, err := LoadConfig(lookupOf(c.env))
		if (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%v: %v, want an error naming %q", c.env, err, c.wantErr)
		}
	}
	cfg, err := LoadConfig(lookupOf(map[string]string{"KEYWARD_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7,2001:db8::/32"}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := cfg.Limits.trustedProxies()
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("proxies %v, want %v", got, want)
	}
	if def, _ := Defaults().Limits.trustedProxies(); len(def) != 0 {
		t.Fatalf("trusted by default: %v", def)
	}
}

// TestBenchServerHasNoOrderLimit: `keyward bench` places orders from one
// address as fast as it can; its server must not limit them.
func TestBenchServerHasNoOrderLimit(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(lookupOf(bench.ServerSettings(8080, "http://127.0.0.1:8080", t.TempDir(), t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	l := rateLimits(cfg)
	if !l.OrdersPerSource.Off() || !l.OrdersPerEmail.Off() || !l.DeliveryIP.Off() {
		t.Fatalf("bench limits: %+v, want orders and deliveries off", l)
	}
	if l := rateLimits(Defaults()); l.OrdersPerSource.Off() || l.OrdersPerEmail.Off() || l.AdminFailures.Off() || l.WebhookFailures.Off() {
		t.Fatalf("default limits: %+v, want all on", l)
	}
}
