package testkit

import (
	"sync"
	"time"
)

// Clock is a settable clock (it implements ports.Clock) safe for the
// goroutines of the code under test. It stands still unless the test sets
// or advances it, or gives it a step: then every reading first moves it by
// the step, so no two readings are equal and each is later than the last.
// A running clock (NewRunningClock) also moves with real time, for tests
// whose code under test waits on real timers while the test jumps ahead.
type Clock struct {
	mu    sync.Mutex
	now   time.Time // the reading at since (or always, when stopped)
	step  time.Duration
	since time.Time // when now was read off, monotonic; zero when stopped
}

// NewClock returns a clock standing at now (its location is kept).
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// NewSteppingClock returns a clock whose readings are start+step,
// start+2*step and so on.
func NewSteppingClock(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// NewRunningClock returns a clock that runs with real time, in UTC, from
// now; Set and Advance move it and it runs on from there.
func NewRunningClock() *Clock {
	since := time.Now()
	return &Clock{now: since.UTC(), since: since}
}

// Now moves the clock by its step (if any) and returns the time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	if c.since.IsZero() {
		return c.now
	}
	return c.now.Add(time.Since(c.since))
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	if !c.since.IsZero() {
		c.since = time.Now()
	}
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// SetStep sets how far each reading moves the clock; zero holds it still.
func (c *Clock) SetStep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
}
