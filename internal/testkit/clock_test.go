package testkit_test

import (
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

var _ ports.Clock = (*testkit.Clock)(nil)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.FixedZone("UTC+9", 9*60*60))

func TestClockStandsStillUntilSetOrAdvanced(t *testing.T) {
	t.Parallel()
	c := testkit.NewClock(t0)
	if got := c.Now(); !got.Equal(t0) || got.Location() != t0.Location() {
		t.Errorf("Now() = %v, want %v in its own location", got, t0)
	}
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("second Now() = %v, want %v: a clock without a step stands still", got, t0)
	}
	c.Advance(90 * time.Minute)
	if got, want := c.Now(), t0.Add(90*time.Minute); !got.Equal(want) {
		t.Errorf("after Advance, Now() = %v, want %v", got, want)
	}
	later := t0.Add(48 * time.Hour)
	c.Set(later)
	if got := c.Now(); !got.Equal(later) {
		t.Errorf("after Set, Now() = %v, want %v", got, later)
	}
}

func TestSteppingClockMovesBeforeEveryReading(t *testing.T) {
	t.Parallel()
	c := testkit.NewSteppingClock(t0, 1500*time.Nanosecond)
	for i := 1; i <= 3; i++ {
		if got, want := c.Now(), t0.Add(time.Duration(i)*1500*time.Nanosecond); !got.Equal(want) {
			t.Errorf("reading %d = %v, want %v", i, got, want)
		}
	}
	c.SetStep(0)
	held := c.Now()
	if got := c.Now(); !got.Equal(held) {
		t.Errorf("with step 0 the clock moved from %v to %v", held, got)
	}
	c.SetStep(2 * time.Hour)
	if got, want := c.Now(), held.Add(2*time.Hour); !got.Equal(want) {
		t.Errorf("after SetStep(2h), Now() = %v, want %v", got, want)
	}
}

// TestClockIsSafeForConcurrentUse is for -race; it also checks that no
// reading of a stepping clock is lost or repeated under contention.
func TestClockIsSafeForConcurrentUse(t *testing.T) {
	t.Parallel()
	const goroutines, reads = 8, 200
	c := testkit.NewSteppingClock(t0, time.Nanosecond)
	seen := make(chan time.Time, goroutines*reads)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range reads {
				seen <- c.Now()
				c.Advance(0)
				c.SetStep(time.Nanosecond)
			}
		})
	}
	wg.Wait()
	close(seen)
	distinct := map[time.Time]bool{}
	for r := range seen {
		distinct[r] = true
	}
	if len(distinct) != goroutines*reads {
		t.Errorf("%d distinct readings from %d calls, want every reading unique", len(distinct), goroutines*reads)
	}
	if got, want := c.Now(), t0.Add(time.Duration(goroutines*reads+1)); !got.Equal(want) {
		t.Errorf("final reading %v, want %v", got, want)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0.Add(time.Nanosecond)) {
		t.Errorf("after Set, Now() = %v", got)
	}
}

func TestRunningClockFollowsRealTimeFromWhereItIsPut(t *testing.T) {
	t.Parallel()
	before := time.Now().UTC()
	c := testkit.NewRunningClock()
	first := c.Now()
	if first.Before(before) || first.Location() != time.UTC {
		t.Errorf("first reading %v, want UTC and not before %v", first, before)
	}
	testkit.Eventually(t, 5*time.Second, "the running clock to move on its own", func() bool { return c.Now().After(first) })
	c.Advance(time.Hour)
	if got := c.Now(); got.Sub(first) < time.Hour {
		t.Errorf("after Advance(1h), reading %v is less than an hour after %v", got, first)
	}
	c.Set(t0)
	got := c.Now()
	if got.Before(t0) || got.Sub(t0) > time.Minute {
		t.Errorf("after Set(%v), reading %v", t0, got)
	}
	testkit.Eventually(t, 5*time.Second, "the set clock to run on", func() bool { return c.Now().After(got) })
}
