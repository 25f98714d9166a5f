package testkit

import (
	"testing"
	"time"
)

// TestBackoffStartsShort: Eventually's waits start at a few milliseconds
// and grow, so that a condition that holds just after the first poll is
// not kept waiting a long period, and a long wait polls at most every
// maxWait; the first three waits fit inside 25ms.
func TestBackoffStartsShort(t *testing.T) {
	if firstWait > 5*time.Millisecond {
		t.Errorf("the first wait is %s, want a few milliseconds", firstWait)
	}
	var sum time.Duration
	wait := firstWait
	for i := range 20 {
		if i < 3 {
			sum += wait
		}
		next := nextWait(wait)
		if next < wait || next > maxWait {
			t.Fatalf("wait %s is followed by %s, want it to grow up to %s", wait, next, maxWait)
		}
		wait = next
	}
	if wait != maxWait {
		t.Errorf("the waits settle at %s, want %s", wait, maxWait)
	}
	if sum > 25*time.Millisecond {
		t.Errorf("the first three waits take %s, want them inside 25ms", sum)
	}
}
