package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Claims is a ports.ClaimRepository in memory.
type Claims struct {
	mu     sync.Mutex
	claims map[string]domain.ClaimSnapshot
}

var _ ports.ClaimRepository = (*Claims)(nil)

// NewClaims returns an empty repository.
func NewClaims() *Claims { return &Claims{claims: map[string]domain.ClaimSnapshot{}} }

// Create stores c; domain.ErrConflict on a duplicate id or a second open
// claim on the item. In a unit of work that fails, the claim goes again.
func (r *Claims) Create(ctx context.Context, c *domain.Claim) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := c.Snapshot()
	if _, ok := r.claims[s.ID]; ok {
		return fmt.Errorf("%w: claim %s exists", domain.ErrConflict, s.ID)
	}
	for _, o := range r.claims {
		if o.ItemID == s.ItemID && o.Status == domain.ClaimOpen && s.Status == domain.ClaimOpen {
			return fmt.Errorf("%w: item %s has an open claim", domain.ErrConflict, s.ItemID)
		}
	}
	r.claims[s.ID] = s
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.claims, s.ID)
		})
	}
	return nil
}

// Get returns the claim or domain.ErrNotFound.
func (r *Claims) Get(_ context.Context, id string) (*domain.Claim, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.claims[id]
	if !ok {
		return nil, fmt.Errorf("%w: claim %s", domain.ErrNotFound, id)
	}
	return domain.UnmarshalClaim(s), nil
}

// Update runs fn under the lock and saves the claim when fn succeeds; in a
// unit of work that fails, the claim goes back to what it was.
func (r *Claims) Update(ctx context.Context, id string, fn func(*domain.Claim) error) (*domain.Claim, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.claims[id]
	if !ok {
		return nil, fmt.Errorf("%w: claim %s", domain.ErrNotFound, id)
	}
	c := domain.UnmarshalClaim(s)
	if err := fn(c); err != nil {
		return nil, err
	}
	r.claims[id] = c.Snapshot()
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.claims[id] = s
		})
	}
	return c, nil
}

// List returns claims newest first after q.After, filtered.
func (r *Claims) List(_ context.Context, q ports.ClaimQuery) ([]*domain.Claim, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []domain.ClaimSnapshot
	for _, s := range r.claims {
		switch {
		case q.Status != nil && s.Status != *q.Status:
		case q.OrderID != "" && s.OrderID != q.OrderID:
		case q.After != "" && s.ID >= q.After:
		default:
			all = append(all, s)
		}
	}
	slices.SortFunc(all, func(a, b domain.ClaimSnapshot) int { return cmp.Compare(b.ID, a.ID) })
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[:q.Limit]
	}
	out := make([]*domain.Claim, 0, len(all))
	for _, s := range all {
		out = append(out, domain.UnmarshalClaim(s))
	}
	return out, nil
}

// CountApproved returns how many of the item's claims were approved.
func (r *Claims) CountApproved(_ context.Context, itemID string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.claims {
		if s.ItemID == itemID && s.Status == domain.ClaimApproved {
			n++
		}
	}
	return n, nil
}
