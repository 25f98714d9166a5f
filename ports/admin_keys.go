package ports

import (
	"context"

	"github.com/keyward/keyward/domain"
)

// AdminKeys stores the admin API's keys by the hash of the key; the key
// itself is never stored.
type AdminKeys interface {
	// Create stores a new key; domain.ErrConflict if its id or hash exists.
	Create(ctx context.Context, k *domain.AdminKey) error
	// GetByHash returns the key (revoked or not) whose hash is h, or
	// domain.ErrNotFound.
	GetByHash(ctx context.Context, h domain.TokenHash) (*domain.AdminKey, error)
	// List returns every key, revoked ones included, oldest first.
	List(ctx context.Context) ([]*domain.AdminKey, error)
	// Update locks the key, calls fn and saves it; fn's error is returned
	// and nothing saved. domain.ErrNotFound if the key does not exist.
	Update(ctx context.Context, id string, fn func(*domain.AdminKey) error) (*domain.AdminKey, error)
}
