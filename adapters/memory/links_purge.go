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
			r.order = slices.DeleteFunc(r.order, func(x string) bool { return x == id })
			n++
		}
	}
	return n, nil
}
