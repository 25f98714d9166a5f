package application

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Bounds of PollSupplier: each look may take pollLookTimeout; up to
// pollParallel looks run at once; an order whose looks failed
// pollMaxFailures times in a row is left to the reconciler, as is any
// order beyond pollMaxScheduled.
const (
	pollLookTimeout  = time.Minute
	pollParallel     = 4
	pollMaxFailures  = 5
	pollMaxScheduled = 10000
	// pollBeforeRelease is how often a pre-order is looked at before its
	// release date: a supplier may bring the release forward (or move it),
	// which only a look finds. One look a day is one supplier call an
	// order, nothing written unless the date moved.
	pollBeforeRelease = 24 * time.Hour
)

// DefaultSupplierPoll is how long PollSupplier waits before each new look at
// an order whose supplier keys were not ready: 5 s, 15 s, 45 s, 2 min, then
// every 10 min (the last wait repeats), as Kinguin recommends beside its
// webhooks.
var DefaultSupplierPoll = []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second, 2 * time.Minute, 10 * time.Minute}

// PollSupplier resumes orders left waiting for supplier keys, on a backoff,
// so that keys a supplier has ready arrive within seconds even when its
// webhook never comes. Fulfilment tells it of each order it leaves
// waiting; nothing is written for it: the schedule lives in this process,
// and after a restart the reconciler's slower pass resumes what was
// waiting. An order is dropped once a look finds it no longer waiting (done,
// failed, held, revoked) or gone, and after pollMaxFailures failed looks in
// a row; the reconciler resumes those. Only runs triggered by messages and
// webhooks feed the schedule, not the reconciler's.
type PollSupplier struct {
	s *pollSchedule
}

// pollSchedule is the orders to look at again, shared by the copies of the
// use case and the fulfilment that feeds it.
type pollSchedule struct {
	mu     sync.Mutex
	waits  []time.Duration
	orders map[string]*pollEntry
	fulfil FulfilOrder
	clock  ports.Clock
	log    *slog.Logger
}

type pollEntry struct {
	next     time.Time
	looks    int  // looks taken so far
	failures int  // failed looks in a row
	running  bool // a look is under way
	waiting  bool // fulfilment left the order waiting since the look began
	// release, when set, is a pre-order's release still to come: the next
	// look is not before it.
	release time.Time
}

// newPollSupplier returns the use case and the schedule fulfilment feeds;
// the FulfilOrder it resumes orders with is set once built (setFulfil),
// since that fulfilment feeds it.
func newPollSupplier(waits []time.Duration, clock ports.Clock, log *slog.Logger) PollSupplier {
	require("PollSupplier", "clock", clock, "log", log)
	if len(waits) == 0 {
		waits = DefaultSupplierPoll
	}
	return PollSupplier{s: &pollSchedule{waits: waits, orders: map[string]*pollEntry{}, clock: clock, log: log}}
}

func (p PollSupplier) setFulfil(f FulfilOrder) { p.s.fulfil = f }

// waiting schedules the order's first look, or notes that a look left it
// waiting again.
func (s *pollSchedule) waiting(orderID string) { s.waitingUntil(orderID, time.Time{}) }

// waitingUntil is waiting for an order whose items wait for a pre-order's
// release (release, non-zero): before the release it is looked at once a
// day (pollBeforeRelease), in case the date moved; on the release day the
// backoff starts again, so keys released that day arrive within seconds
// and the order is looked at every few minutes after, never dropped for
// waiting.
func (s *pollSchedule) waitingUntil(orderID string, release time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	e, ok := s.orders[orderID]
	if !ok {
		if len(s.orders) >= pollMaxScheduled {
			s.log.Warn("supplier poll schedule full: the reconciler resumes the order", "order_id", orderID, "scheduled", len(s.orders))
			return
		}
		e = &pollEntry{next: now.Add(s.waits[0])}
		s.orders[orderID] = e
	} else {
		e.waiting = true
	}
	if !release.After(now) {
		e.release = time.Time{} // released, or no pre-order: the backoff
		return
	}
	e.release, e.looks = release, 0
	if !e.running {
		e.next = nextBeforeRelease(now, release)
	}
}

// nextBeforeRelease is when a pre-order released on release is looked at
// next: a day on, or on its release day if that comes first.
func nextBeforeRelease(now, release time.Time) time.Time {
	if next := now.Add(pollBeforeRelease); next.Before(release) {
		return next
	}
	return release
}

// preorderWaiting schedules the daily looks at a pre-order no look is
// scheduled for, one released on release: the reconciler's pass finds it
// after a restart lost the schedule. An order already scheduled keeps its
// looks.
func (s *pollSchedule) preorderWaiting(orderID string, release time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.orders[orderID]; ok || len(s.orders) >= pollMaxScheduled {
		return
	}
	now := s.clock.Now()
	s.orders[orderID] = &pollEntry{next: nextBeforeRelease(now, release), release: release}
}

// Scheduled reports how many orders are waiting for a look.
func (p PollSupplier) Scheduled() int {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return len(p.s.orders)
}

// Handle looks again at every order whose wait is over, up to
// pollParallel at a time and each within pollLookTimeout, and returns how
// many it looked at. An order still waiting afterwards, or whose look
// failed, waits the next step of the backoff; the others are dropped, as
// is one whose looks failed pollMaxFailures times in a row. Failures are
// logged: the reconciler also resumes the order.
func (p PollSupplier) Handle(ctx context.Context) (int, error) {
	s := p.s
	now := s.clock.Now()
	var due []string
	s.mu.Lock()
	for id, e := range s.orders {
		if !e.running && !now.Before(e.next) {
			e.running, e.waiting = true, false
			due = append(due, id)
		}
	}
	s.mu.Unlock()
	slots := make(chan struct{}, pollParallel)
	var wg sync.WaitGroup
	for _, id := range due {
		if ctx.Err() != nil {
			s.done(id, ctx.Err())
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			look, cancel := context.WithTimeout(ctx, pollLookTimeout)
			defer cancel()
			err := s.fulfil.Handle(look, id)
			if err != nil {
				s.log.WarnContext(ctx, "supplier poll failed", "order_id", id, "err", err)
			}
			s.done(id, err)
		})
	}
	wg.Wait()
	return len(due), ctx.Err()
}

// done reschedules or drops the order after a look that ended with err.
func (s *pollSchedule) done(id string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.orders[id]
	e.running = false
	if err == nil {
		e.failures = 0
	} else {
		e.failures++
	}
	switch {
	case errors.Is(err, domain.ErrNotFound) || e.failures >= pollMaxFailures:
		s.log.Info("supplier poll gives the order up to the reconciler", "order_id", id, "failed_looks", e.failures)
		delete(s.orders, id)
	case err == nil && e.waiting && e.release.After(s.clock.Now()):
		e.next = nextBeforeRelease(s.clock.Now(), e.release) // a pre-order: a day on, or once released
	case err != nil || e.waiting:
		e.looks++
		e.next = s.clock.Now().Add(s.waits[min(e.looks, len(s.waits)-1)])
	default:
		delete(s.orders, id)
	}
}
