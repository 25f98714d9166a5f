package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// CustomerLinks is a ports.CustomerLinkRepository in memory.
type CustomerLinks struct {
	mu     sync.Mutex
	links  map[string]domain.CustomerLinkSnapshot
	byHash map[domain.TokenHash]string
}

var _ ports.CustomerLinkRepository = (*CustomerLinks)(nil)

// NewCustomerLinks returns an empty repository.
func NewCustomerLinks() *CustomerLinks {
	return &CustomerLinks{links: map[string]domain.CustomerLinkSnapshot{}, byHash: map[domain.TokenHash]string{}}
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

// Update runs fn under the lock and saves the link when fn succeeds; in a
// unit of work that fails, the link goes back to what it was.
func (r *CustomerLinks) Update(ctx context.Context, id string, fn func(*domain.CustomerLink) error) (*domain.CustomerLink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.links[id]
	if !ok {
		return nil, fmt.Errorf("%w: sign-in link %s", domain.ErrNotFound, id)
	}
	l := domain.UnmarshalCustomerLink(s)
	if err := fn(l); err != nil {
		return nil, err
	}
	r.links[id] = l.Snapshot()
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.links[id] = s
		})
	}
	return l, nil
}

var _ ports.ExpiredLinkPurger = (*CustomerLinks)(nil)

// DeleteExpired removes up to limit sign-in links that expired before
// cutoff, the longest expired first.
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
	return n, nil
}
