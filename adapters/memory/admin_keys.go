package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AdminKeys is a ports.AdminKeys in memory.
type AdminKeys struct {
	mu   sync.Mutex
	keys []domain.AdminKeySnapshot // oldest first
}

var _ ports.AdminKeys = (*AdminKeys)(nil)

// NewAdminKeys returns an empty store.
func NewAdminKeys() *AdminKeys { return &AdminKeys{} }

// Create stores k; domain.ErrConflict if its id or hash exists.
func (s *AdminKeys) Create(_ context.Context, k *domain.AdminKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have.ID == k.ID() || have.Hash == k.Hash() {
			return fmt.Errorf("%w: admin key %s exists", domain.ErrConflict, k.ID())
		}
	}
	s.keys = append(s.keys, k.Snapshot())
	return nil
}

// GetByHash returns the key whose hash is h, or domain.ErrNotFound.
func (s *AdminKeys) GetByHash(_ context.Context, h domain.TokenHash) (*domain.AdminKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.Hash == h {
			return domain.UnmarshalAdminKey(k)
		}
	}
	return nil, fmt.Errorf("%w: admin key", domain.ErrNotFound)
}

// List returns every key, oldest first.
func (s *AdminKeys) List(_ context.Context) ([]*domain.AdminKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*domain.AdminKey, 0, len(s.keys))
	for _, snap := range s.keys {
		k, err := domain.UnmarshalAdminKey(snap)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Update runs fn on the key under the store's lock and saves it when fn
// succeeds; domain.ErrNotFound for an unknown id.
func (s *AdminKeys) Update(_ context.Context, id string, fn func(*domain.AdminKey) error) (*domain.AdminKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, snap := range s.keys {
		if snap.ID != id {
			continue
		}
		k, err := domain.UnmarshalAdminKey(snap)
		if err != nil {
			return nil, err
		}
		if err := fn(k); err != nil {
			return nil, err
		}
		s.keys[i] = k.Snapshot()
		return k, nil
	}
	return nil, fmt.Errorf("%w: admin key %s", domain.ErrNotFound, id)
}
