package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// CustomerLinks is a ports.CustomerLinkRepository and a
// ports.CustomerAccessRequests in memory.
type CustomerLinks struct {
	mu        sync.Mutex
	links     map[string]domain.CustomerLinkSnapshot
	byHash    map[domain.TokenHash]string
	requests  map[string]domain.CustomerAccessRequest
	publisher ports.EventPublisher
	// rows holds the links a unit of work changed until it ends.
	rows rowLocks
}

var (
	_ ports.CustomerLinkRepository = (*CustomerLinks)(nil)
	_ ports.CustomerAccessRequests = (*CustomerLinks)(nil)
)

// NewCustomerLinks returns an empty repository that publishes access
// requests through p (nil: their events are dropped).
func NewCustomerLinks(p ports.EventPublisher) *CustomerLinks {
	r := &CustomerLinks{links: map[string]domain.CustomerLinkSnapshot{}, byHash: map[domain.TokenHash]string{},
		requests: map[string]domain.CustomerAccessRequest{}, publisher: p}
	r.rows = newRowLocks(&r.mu)
	return r
}

// RequestAccess stores rq and publishes its event: at once, or in a unit
// of work when it ends well (a failed one forgets the request and
// publishes nothing); domain.ErrConflict on a duplicate id.
func (r *CustomerLinks) RequestAccess(ctx context.Context, rq domain.CustomerAccessRequest) error {
	r.mu.Lock()
	if _, ok := r.requests[rq.ID]; ok {
		r.mu.Unlock()
		return fmt.Errorf("%w: access request %s exists", domain.ErrConflict, rq.ID)
	}
	r.requests[rq.ID] = rq
	r.mu.Unlock()
	publish := func() error {
		if r.publisher == nil {
			return nil
		}
		if err := r.publisher.Publish(ctx, rq.Event()); err != nil {
			return fmt.Errorf("publish access request %s: %w", rq.ID, err)
		}
		return nil
	}
	u := unitFrom(ctx)
	if u == nil {
		return publish()
	}
	var rolledBack atomic.Bool
	u.onRollback(func() {
		rolledBack.Store(true)
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.requests, rq.ID)
	})
	u.onEnd(func() {
		if !rolledBack.Load() {
			_ = publish() // as with an outbox, the request is stored: only its event is late
		}
	})
	return nil
}

// AccessRequest returns the request or domain.ErrNotFound.
func (r *CustomerLinks) AccessRequest(_ context.Context, id string) (domain.CustomerAccessRequest, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rq, ok := r.requests[id]
	if !ok {
		return domain.CustomerAccessRequest{}, fmt.Errorf("%w: access request %s", domain.ErrNotFound, id)
	}
	return rq, nil
}

// Create stores l; domain.ErrConflict on a duplicate id or token hash. In
// a unit of work that fails, the link goes again.
func (r *CustomerLinks) Create(ctx context.Context, l *domain.CustomerLink) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := l.Snapshot()
	if _, ok := r.links[s.ID]; ok {
		return fmt.Errorf("%w: sign-in link %s exists", domain.ErrConflict, s.ID)
	}
	if _, ok := r.byHash[s.TokenHash]; ok {
		return fmt.Errorf("%w: token hash exists", domain.ErrConflict)
	}
	r.links[s.ID] = s
	r.byHash[s.TokenHash] = s.ID
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.links, s.ID)
			delete(r.byHash, s.TokenHash)
		})
	}
	return nil
}

// GetByTokenHash returns the link or domain.ErrNotFound.
func (r *CustomerLinks) GetByTokenHash(_ context.Context, h domain.TokenHash) (*domain.CustomerLink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byHash[h]
	if !ok {
		return nil, fmt.Errorf("%w: sign-in link", domain.ErrNotFound)
	}
	return domain.UnmarshalCustomerLink(r.links[id]), nil
}

// Update runs fn under the lock and saves the link when fn succeeds.
// Inside a unit of work (Transactor.Atomically) the link stays locked
// until the unit ends, as a row lock does, and goes back to what it was if
// the unit fails: two sign-ins never both use a single-use link, and a
// failed one never undoes another's use.
func (r *CustomerLinks) Update(ctx context.Context, id string, fn func(*domain.CustomerLink) error) (*domain.CustomerLink, error) {
	u := unitFrom(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows.wait(id, u)
	s, ok := r.links[id]
	if !ok {
		return nil, fmt.Errorf("%w: sign-in link %s", domain.ErrNotFound, id)
	}
	l := domain.UnmarshalCustomerLink(s)
	if err := fn(l); err != nil {
		return nil, err
	}
	r.links[id] = l.Snapshot()
	// A failed unit puts the link back as it was: it still holds the link,
	// so no one else changed it since.
	r.rows.hold(id, u, func() {
		if _, ok := r.links[id]; ok { // not purged meanwhile
			r.links[id] = s
		}
	})
	return l, nil
}

var _ ports.ExpiredLinkPurger = (*CustomerLinks)(nil)

// DeleteExpired removes up to limit sign-in links that expired before
// cutoff, the longest expired first, and up to limit access requests made
// before it; it returns how many links.
func (r *CustomerLinks) DeleteExpired(_ context.Context, cutoff time.Time, limit int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var expired []domain.CustomerLinkSnapshot
	for _, s := range r.links {
		if s.ExpiresAt.Before(cutoff) {
			expired = append(expired, s)
		}
	}
	slices.SortFunc(expired, func(a, b domain.CustomerLinkSnapshot) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	n := min(len(expired), max(limit, 0))
	for _, s := range expired[:n] {
		delete(r.links, s.ID)
		delete(r.byHash, s.TokenHash)
	}
	// Up to limit requests made before the cutoff go too, uncounted, as
	// on Postgres.
	gone := 0
	for id, rq := range r.requests {
		if gone >= max(limit, 0) {
			break
		}
		if rq.RequestedAt.Before(cutoff) {
			delete(r.requests, id)
			gone++
		}
	}
	return n, nil
}
