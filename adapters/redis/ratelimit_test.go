package redis_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/adapters/redis"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// testRedisURL is the Redis the tests need (scripts/test.sh starts one):
// a missing Redis fails them, it does not skip them.
func testRedisURL() string {
	if u := os.Getenv("KEYWARD_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// connect is a client on the test Redis and a key prefix no other test uses.
func connect(t *testing.T) (*goredis.Client, string) {
	t.Helper()
	c, err := redis.Connect(t.Context(), "KEYWARD_TEST_REDIS_URL", testRedisURL(), 5*time.Second)
	if err != nil {
		t.Fatalf("%v (start redis-server, or run scripts/test.sh)", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return c, "keyward-test:" + hex.EncodeToString(b) + ":"
}

// TestRateLimiterContract runs the contract with two clients, as two
// processes would.
func TestRateLimiterContract(t *testing.T) {
	t.Parallel()
	porttest.RateLimiter(t, func(t *testing.T) (ports.RateLimiter, ports.RateLimiter) {
		a, prefix := connect(t)
		b, _ := connect(t)
		return redis.NewRateLimiter(a, prefix), redis.NewRateLimiter(b, prefix)
	})
}

// TestUnreachableRedis: start-up fails with one line naming the variable
// and never the URL's password; a request-time failure is an error the
// caller can see, not a verdict.
func TestUnreachableRedis(t *testing.T) {
	t.Parallel()
	const url = "redis://keyward:hunter2-secret@127.0.0.1:1/0"
	_, err := redis.Connect(t.Context(), "KEYWARD_REDIS_URL", url, 2*time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "KEYWARD_REDIS_URL=") || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("unreachable redis: %v", err)
	}
	if _, err := redis.Connect(t.Context(), "KEYWARD_REDIS_URL", "http://u:hunter2-secret@host/", time.Second); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad scheme: %v", err)
	}

	c, prefix := connect(t)
	l := redis.NewRateLimiter(c, prefix)
	_ = c.Close()
	if _, err := l.Allow(t.Context(), "k", ports.RateLimit{Every: time.Second, Burst: 1}); err == nil {
		t.Fatal("a closed client gave a verdict")
	}
}
