package bootstrap_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/bootstrap"
)

// testRedisURL is the Redis these tests need (scripts/test.sh starts one);
// a missing Redis fails them.
func testRedisURL() string {
	if u := os.Getenv("KEYWARD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redisInstance starts one keyward API in memory whose rate limits live in
// the test Redis, and returns its base URL.
func redisInstance(t *testing.T, perEmail string) string {
	t.Helper()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", t.TempDir(), filepath.Join(t.TempDir(), "keyring.json")
	cfg.Limits.Store, cfg.Limits.RedisURL = "redis", testRedisURL()
	if err := cfg.Limits.OrdersEmail.UnmarshalText([]byte(perEmail)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var base bootstrap.BaseURL
	app := bootstrap.New(cfg, fx.NopLogger, fx.Populate(&base))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start keyward with redis rate limits: %v (start redis-server, or run scripts/test.sh)", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = app.Stop(ctx)
	})
	return string(base)
}

// TestTwoInstancesShareOneRateLimit: two API instances on one Redis keep
// one budget per recipient: orders alternating between them get the
// burst and no more, on either.
func TestTwoInstancesShareOneRateLimit(t *testing.T) {
	t.Parallel()
	a, b := redisInstance(t, "3/1h"), redisInstance(t, "3/1h")
	var sku struct {
		Items []struct {
			SKU string `json:"sku"`
		} `json:"items"`
	}
	resp, err := http.Get(a + "/v1/products")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&sku)
	resp.Body.Close()
	if len(sku.Items) == 0 {
		t.Fatal("no products")
	}
	// A recipient no other run has used: the budget is this test's alone.
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	email := "shared-" + hex.EncodeToString(id) + "@example.com"
	body, _ := json.Marshal(map[string]any{"email": email, "items": []any{map[string]any{"sku": sku.Items[0].SKU, "quantity": 1}}})
	var codes []int
	for i := range 6 {
		base := a
		if i%2 == 1 {
			base = b
		}
		resp, err := http.Post(base+"/v1/orders", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Fatalf("order %d: 429 without Retry-After", i)
		}
	}
	want := []int{201, 201, 201, 429, 429, 429}
	for i := range want {
		if codes[i] != want[i] {
			t.Fatalf("orders alternating between two instances: %v, want %v (one shared budget of 3)", codes, want)
		}
	}
}

// TestUnreachableRedisStopsTheStart: with the store set to redis and no
// Redis at its URL, keyward does not start, and says which variable to
// fix without its password.
func TestUnreachableRedisStopsTheStart(t *testing.T) {
	t.Parallel()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", t.TempDir(), filepath.Join(t.TempDir(), "keyring.json")
	cfg.Limits.Store, cfg.Limits.RedisURL = "redis", "redis://keyward:hunter2-pass@127.0.0.1:1/0" // nothing listens there
	app := bootstrap.New(cfg, fx.NopLogger)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := app.Start(ctx)
	if err == nil {
		_ = app.Stop(context.Background())
		t.Fatal("started without its Redis")
	}
	if !strings.Contains(err.Error(), "KEYWARD_REDIS_URL") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("start error: %v", err)
	}
}

// TestTrustedProxiesReachTheLimits: with KEYWARD_TRUSTED_PROXIES naming
// the proxy in front of keyward (here the test, on loopback), each client
// it forwards has its own failed-admin budget; one client's failures are
// still cut off at the burst.
func TestTrustedProxiesReachTheLimits(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *bootstrap.Config) {
		c.DeliveryRateLimit = true // the failed-admin limit with it
		c.Limits.TrustedProxies = []string{"127.0.0.0/8"}
	})
	const failures = 12 // past the default burst of 10
	wrongKey := func(client string) int {
		code, _, _ := h.do("GET", "/v1/admin/audit", nil, map[string]string{"Authorization": "Bearer not-an-admin-key-0001", "X-Forwarded-For": client}, nil)
		return code
	}
	for i := range failures {
		if code := wrongKey(fmt.Sprintf("203.0.113.%d", i+1)); code != http.StatusUnauthorized {
			t.Fatalf("failure %d, from its own forwarded client: %d, want 401", i+1, code)
		}
	}
	codes := map[int]int{}
	for range failures {
		codes[wrongKey("198.51.100.9")]++
	}
	if codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("%d failures from one forwarded client: %v, want 429 past the burst", failures, codes)
	}
}
