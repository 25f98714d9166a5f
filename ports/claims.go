package ports

import (
	"context"

	"github.com/keyward/keyward/domain"
)

// ClaimRepository stores customers' claims that a key does not work.
type ClaimRepository interface {
	// Create stores a new claim; domain.ErrConflict on a duplicate id or
	// when the item has an open claim already.
	Create(ctx context.Context, c *domain.Claim) error
	// Get returns the claim or domain.ErrNotFound.
	Get(ctx context.Context, id string) (*domain.Claim, error)
	// Update locks the claim, calls fn, saves; see OrderRepository.Update.
	Update(ctx context.Context, id string, fn func(*domain.Claim) error) (*domain.Claim, error)
	// List returns claims newest first (by id), after the cursor (a claim
	// id, "" for the start), filtered by what q sets.
	List(ctx context.Context, q ClaimQuery) ([]*domain.Claim, error)
	// CountApproved returns how many of the item's claims were approved:
	// the replacements it had.
	CountApproved(ctx context.Context, itemID string) (int, error)
}

// ClaimQuery filters ClaimRepository.List; zero fields do not filter.
type ClaimQuery struct {
	Status  *domain.ClaimStatus
	OrderID string
	After   string
	Limit   int
}
