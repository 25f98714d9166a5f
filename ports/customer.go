package ports

import (
	"context"

	"github.com/keyward/keyward/domain"
)

// CustomerLinkRepository stores customers' sign-in links by token hash.
type CustomerLinkRepository interface {
	// Create stores a link; domain.ErrConflict on a duplicate id or hash.
	Create(ctx context.Context, l *domain.CustomerLink) error
	// GetByTokenHash returns the link or domain.ErrNotFound.
	GetByTokenHash(ctx context.Context, h domain.TokenHash) (*domain.CustomerLink, error)
	// Update locks the link, calls fn, saves; see OrderRepository.Update.
	Update(ctx context.Context, id string, fn func(*domain.CustomerLink) error) (*domain.CustomerLink, error)
}
