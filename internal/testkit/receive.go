package testkit

import (
	"testing"
	"time"
)

// Receive returns the next value ch hands out; it fails t, naming what it
// waited for, when none comes within within or ch is closed first.
func Receive[T any](t testing.TB, ch <-chan T, within time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("the channel closed before %s came", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("after %s: %s did not come", within, what)
	}
	var zero T
	return zero
}
