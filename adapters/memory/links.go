package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

var _ ports.DeliveryLinkRevealer = (*Links)(nil)

// Links is a DeliveryLinkRepository in memory.
type Links struct {
	mu     sync.Mutex
	links  map[string]domain.DeliveryLinkSnapshot
	byHash map[domain.TokenHash]string
	// byOrder holds each order's link ids, oldest first: ListByOrder runs
	// for every delivery and reveal and must not scan every link.
	byOrder map[string][]string
	// rows holds the links a unit of work changed until it ends.
	rows rowLocks
}

// NewLinks returns an empty repository.
func NewLinks() *Links {
	r := &Links{links: map[string]domain.DeliveryLinkSnapshot{}, byHash: map[domain.TokenHash]string{}, byOrder: map[string][]string{}}
	r.rows = newRowLocks(&r.mu)
	return r
}

// Create stores l; domain.ErrConflict on a duplicate id or token hash.
func (r *Links) Create(_ context.Context, l *domain.DeliveryLink) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := l.Snapshot()
	if _, ok := r.links[s.ID]; ok {
		return fmt.Errorf("%w: link %s exists", domain.ErrConflict, s.ID)
	}
	if _, ok := r.byHash[s.TokenHash]; ok {
		return fmt.Errorf("%w: token hash exists", domain.ErrConflict)
	}
	r.links[s.ID] = s
	r.byHash[s.TokenHash] = s.ID
	r.byOrder[s.OrderID] = append(r.byOrder[s.OrderID], s.ID)
	return nil
}

// GetByTokenHash returns the link or domain.ErrNotFound.
func (r *Links) GetByTokenHash(_ context.Context, h domain.TokenHash) (*domain.DeliveryLink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.byHash[h]
	if !ok {
		return nil, fmt.Errorf("%w: delivery link", domain.ErrNotFound)
	}
	return domain.UnmarshalDeliveryLink(r.links[id]), nil
}

// Update runs fn under the lock and saves the link when fn succeeds.
// Inside a unit of work (Transactor.Atomically) the link stays locked
// until the unit ends and goes back to what it was if the unit fails.
func (r *Links) Update(ctx context.Context, id string, fn func(*domain.DeliveryLink) error) (*domain.DeliveryLink, error) {
	u := unitFrom(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows.wait(id, u)
	s, ok := r.links[id]
	if !ok {
		return nil, fmt.Errorf("%w: delivery link %s", domain.ErrNotFound, id)
	}
	l := domain.UnmarshalDeliveryLink(s)
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

// Reveal is Update calling DeliveryLink.Reveal
// (ports.DeliveryLinkRevealer).
func (r *Links) Reveal(ctx context.Context, id string, now time.Time) (*domain.DeliveryLink, bool, error) {
	var first bool
	l, err := r.Update(ctx, id, func(l *domain.DeliveryLink) (err error) {
		first, err = l.Reveal(now)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return l, first, nil
}

// ListByOrder returns the order's links, oldest first.
func (r *Links) ListByOrder(_ context.Context, orderID string) ([]*domain.DeliveryLink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*domain.DeliveryLink
	for _, id := range r.byOrder[orderID] {
		out = append(out, domain.UnmarshalDeliveryLink(r.links[id]))
	}
	return out, nil
}
