package testkit

import (
	"sync"
	"time"
)

// Clock is a settable clock (it implements ports.Clock) safe for the
// goroutines of the code under test. It stands still unless the test sets
// or advances it, or gives it a step: then every reading first moves it by
// the step, so no two readings are equal and each is later than the last.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewClock returns a clock standing at now (its location is kept).
func NewClock(now time.Time) *Clock { return &Clock{now: now} }

// NewSteppingClock returns a clock whose readings are start+step,
// start+2*step and so on.
func NewSteppingClock(start time.Time, step time.Duration) *Clock {
	return &Clock{now: start, step: step}
}

// Now moves the clock by its step (if any) and returns the time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
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
