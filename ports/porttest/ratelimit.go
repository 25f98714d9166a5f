package porttest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

// RateLimiter checks that a budget lets its burst through and no more, that
// keys do not share a budget, and that two limiters on one store (two
// processes) spend one budget even when they race. newLimiters returns
// the two; keys are unique to the call so stores may be shared by tests.
func RateLimiter(t *testing.T, newLimiters func(t *testing.T) (a, b ports.RateLimiter)) {
	t.Helper()
	a, b := newLimiters(t)
	ctx := t.Context()
	limit := ports.RateLimit{Every: time.Hour, Burst: 3}
	for i := range 3 {
		l := a
		if i == 1 {
			l = b
		}
		if wait, err := l.Allow(ctx, "key-1", limit); err != nil || wait != 0 {
			t.Fatalf("event %d within the burst: wait %v, %v", i, wait, err)
		}
	}
	for _, l := range []ports.RateLimiter{a, b} {
		wait, err := l.Allow(ctx, "key-1", limit)
		if err != nil || wait <= 0 || wait > time.Hour {
			t.Fatalf("event past the burst: wait %v, %v; want a wait of at most an hour", wait, err)
		}
	}
	if wait, err := b.Allow(ctx, "key-2", limit); err != nil || wait != 0 {
		t.Fatalf("another key: wait %v, %v", wait, err)
	}
	if wait, err := a.Allow(ctx, "off", ports.RateLimit{}); err != nil || wait != 0 {
		t.Fatalf("no limit: wait %v, %v", wait, err)
	}

	// A budget given back quickly is usable again. Quickly, but not so
	// quickly that a loaded machine's second call comes after it.
	fast := ports.RateLimit{Every: time.Second, Burst: 1}
	if wait, err := a.Allow(ctx, "fast", fast); err != nil || wait != 0 {
		t.Fatalf("fast: %v %v", wait, err)
	}
	wait, err := b.Allow(ctx, "fast", fast)
	if err != nil || wait <= 0 {
		t.Fatalf("fast, second at once: %v %v", wait, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		w, err := b.Allow(ctx, "fast", fast)
		if err != nil {
			t.Fatal(err)
		}
		if w == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the budget never came back")
		}
		<-time.After(w) // the limiter says when: waiting on that, not a guess
	}

	// Racing spenders on both limiters get exactly the burst.
	const burst = 10
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			w, err := l.Allow(ctx, "race", ports.RateLimit{Every: time.Hour, Burst: burst})
			if err != nil {
				t.Error(err)
				return
			}
			if w == 0 {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != burst {
		t.Fatalf("%d racing events allowed, want the burst of %d", n, burst)
	}
}
