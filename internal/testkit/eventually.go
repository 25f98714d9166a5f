package testkit

import (
	"testing"
	"time"
)

// Backoff bounds of Eventually: a condition that holds almost at once is
// seen within a few milliseconds, and a slow one is not polled more than
// about twenty times a second (each poll may hit a database or a broker).
const (
	firstWait = 2 * time.Millisecond
	maxWait   = 50 * time.Millisecond
)

// Eventually polls cond, with a short growing backoff, until it holds; if it
// still does not after within it fails t, naming what it waited for.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	EventuallyWith(t, within, func() string { return "timed out waiting for " + what }, cond)
}

// EventuallyWith is Eventually with the failure message built only on
// timeout, for messages that report the state the test saw last.
func EventuallyWith(t testing.TB, within time.Duration, report func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	wait := firstWait
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("after %s: %s", within, report())
			return
		}
		time.Sleep(min(wait, left))
		wait = nextWait(wait)
	}
}

// nextWait is the wait after wait: doubled, up to maxWait.
func nextWait(wait time.Duration) time.Duration { return min(2*wait, maxWait) }
