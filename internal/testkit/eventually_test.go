package testkit_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testkit"
)

// fakeTB records a failure instead of failing the real test; Fatalf ends
// the goroutine like testing.T's does.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB on its own goroutine (Fatalf exits it) and
// returns the failure message, empty if none.
func run(fn func(testing.TB)) string {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.failed
}

func TestEventuallyFailsNamingWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	var polls []time.Time // only the goroutine run starts touches it until run returns
	start := time.Now()
	msg := run(func(tb testing.TB) {
		testkit.Eventually(tb, 100*time.Millisecond, "the order to be paid", func() bool {
			polls = append(polls, time.Now())
			return false
		})
	})
	if !strings.Contains(msg, "the order to be paid") || !strings.Contains(msg, "100ms") {
		t.Errorf("failure message %q, want it to name the condition and the timeout", msg)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("gave up after %s, before the 100ms it was given", took)
	}
	// It polls again before giving up (how often is the schedule's, pinned
	// in TestBackoffStartsShort without the scheduler's timing).
	if len(polls) < 2 {
		t.Fatalf("polled %d times in 100ms, want again after the first", len(polls))
	}
}

func TestEventuallyWithReportsTheLastState(t *testing.T) {
	t.Parallel()
	seen := 0
	msg := run(func(tb testing.TB) {
		testkit.EventuallyWith(tb, 20*time.Millisecond, func() string { return fmt.Sprintf("status seen %d times", seen) },
			func() bool { seen++; return false })
	})
	if want := fmt.Sprintf("status seen %d times", seen); !strings.Contains(msg, want) {
		t.Errorf("failure message %q, want %q", msg, want)
	}
}

func TestEventuallyReturnsOnceTheConditionHolds(t *testing.T) {
	t.Parallel()
	var polls atomic.Int64
	msg := run(func(tb testing.TB) {
		testkit.Eventually(tb, 10*time.Second, "the third poll", func() bool { return polls.Add(1) == 3 })
	})
	if msg != "" {
		t.Errorf("failed: %s", msg)
	}
	if n := polls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3 (stop at the first hold)", n)
	}
}

func TestEventuallyDoesNotWaitWhenTheConditionAlreadyHolds(t *testing.T) {
	t.Parallel()
	start := time.Now()
	if msg := run(func(tb testing.TB) { testkit.Eventually(tb, time.Minute, "nothing", func() bool { return true }) }); msg != "" {
		t.Errorf("failed: %s", msg)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s for a condition that held at once", took)
	}
}
