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

// CustomerAccessRequests stores requests for sign-in links and hands them
// to the worker that answers them.
type CustomerAccessRequests interface {
	// RequestAccess stores r and publishes r.Event() with it, in the
	// caller's unit of work when there is one; domain.ErrConflict on a
	// duplicate id.
	RequestAccess(ctx context.Context, r domain.CustomerAccessRequest) error
	// AccessRequest returns the request or domain.ErrNotFound.
	AccessRequest(ctx context.Context, id string) (domain.CustomerAccessRequest, error)
}
