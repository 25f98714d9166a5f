package memory

import (
	"context"
	"slices"
	"time"

	"github.com/keyward/keyward/ports"
)

var _ ports.ExpiredLinkPurger = (*Links)(nil)

// DeleteExpired removes up to limit links that expired before cutoff.
func (r *Links) DeleteExpired(_ context.Context, cutoff time.Time, limit int) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, l := range r.links {
		if n >= limit {
			break
		}
		if l.ExpiresAt.Before(cutoff) {
			delete(r.links, id)
			delete(r.byHash, l.TokenHash)
			if ids := slices.DeleteFunc(r.byOrder[l.OrderID], func(x string) bool { return x == id }); len(ids) > 0 {
				r.byOrder[l.OrderID] = ids
			} else {
				delete(r.byOrder, l.OrderID)
			}
			n++
		}
	}
	return n, nil
}
