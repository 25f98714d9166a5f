package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/keyward/keyward/domain"
)

// Links is a DeliveryLinkRepository in memory.
type Links struct {
	mu     sync.Mutex
	links  map[string]domain.DeliveryLinkSnapshot
	byHash map[domain.TokenHash]string
	// byOrder holds each order's link ids, oldest first: ListByOrder runs
	// for every delivery and reveal and must not scan every link.
	byOrder map[string][]string
	// owner holds the unit of work that changed a link until it ends;
	// others wait on free for it (a row lock).
	owner map[string]*unitOfWork
	free  *sync.Cond
}

// NewLinks returns an empty repository.
func NewLinks() *Links {
	r := &Links{links: map[string]domain.DeliveryLinkSnapshot{}, byHash: map[domain.TokenHash]string{}, byOrder: map[string][]string{},
		owner: map[string]*unitOfWork{}}
	r.free = sync.NewCond(&r.mu)
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
	for r.owner[id] != nil && r.owner[id] != u {
		r.free.Wait()
	}
	s, ok := r.links[id]
	if !ok {
		return nil, fmt.Errorf("%w: delivery link %s", domain.ErrNotFound, id)
	}
	l := domain.UnmarshalDeliveryLink(s)
	if err := fn(l); err != nil {
		return nil, err
	}
	r.links[id] = l.Snapshot()
	if u != nil {
		if r.owner[id] == nil {
			r.owner[id] = u
			u.onEnd(func() { r.release(id) })
		}
		u.onRollback(func() { r.restore(s) })
	}
	return l, nil
}

// restore puts back a link as it was before a unit of work that failed
// changed it; the unit still owns the link, so no one else changed it since.
func (r *Links) restore(s domain.DeliveryLinkSnapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.links[s.ID]; ok { // not purged meanwhile
		r.links[s.ID] = s
	}
}

// release ends a unit of work's hold on a link.
func (r *Links) release(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.owner, id)
	r.free.Broadcast()
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
