package ports

import (
	"context"
	"time"

	"github.com/keyward/keyward/domain"
)

// StockRepository keeps our own keys, sealed, and each product's sourcing
// mode. Every write joins the unit of work of Transactor.Atomically when
// ctx carries one.
type StockRepository interface {
	// Add stores, with their canonical hash, the keys whose hash is not
	// stored yet (whatever the stored key's status: a key sold or
	// withdrawn stays known) and whose LegacyHash no key stored in the old
	// hash form holds, and returns the ids of those it stored, in any
	// order; the others are duplicates.
	Add(ctx context.Context, keys []domain.StockKey) (added []domain.StockKeyID, err error)
	// Claim assigns n available keys of sku to itemID and returns them
	// with their sealed data; keys already assigned to itemID count
	// toward n, so a resumed claim takes no more and returns its keys
	// with their sealed data too. Keys locked by a concurrent claim are
	// skipped, never shared. It returns domain.ErrOutOfStock, assigning
	// nothing, when fewer than n are available. Once the claim commits the
	// stored ciphertext is gone: the caller re-seals the keys for the
	// order in the same unit of work.
	Claim(ctx context.Context, sku, itemID string, n int) ([]domain.StockKey, error)
	// Withdraw takes an available key out of the stock, dropping its
	// ciphertext; domain.ErrNotFound for an unknown id or another sku's,
	// domain.ErrInvalidTransition for a key assigned or withdrawn already.
	Withdraw(ctx context.Context, sku string, id domain.StockKeyID, at time.Time) error
	// Restock puts keys assigned to itemID back into the stock, available
	// again under their id and hash, each with its new Sealed ciphertext
	// (sealed under the product's stock key). It returns
	// domain.ErrInvalidTransition, restocking nothing, for a key that is not
	// assigned to itemID, domain.ErrNotFound for an unknown id or another
	// sku's.
	Restock(ctx context.Context, sku, itemID string, keys []domain.StockKey, at time.Time) error
	// Counts returns how many keys of sku are in each status.
	Counts(ctx context.Context, sku string) (domain.StockCounts, error)
	// SetSourcing stores the sourcing mode of sku.
	SetSourcing(ctx context.Context, sku string, s domain.Sourcing) error
	// Sourcing returns the mode stored for sku, domain.ErrNotFound when
	// none is (the product's default applies).
	Sourcing(ctx context.Context, sku string) (domain.Sourcing, error)

	// PendingRehash returns up to n available keys still known by the
	// hash of their old form (the key as typed), oldest first, with
	// their sealed data. Inside a unit of work it locks them, and runs
	// of the rehash on several processes take turns, until it ends.
	PendingRehash(ctx context.Context, n int) ([]domain.StockKey, error)
	// HashHolders returns the keys known by any of hashes, whatever
	// their status, but for withdrawn duplicates.
	HashHolders(ctx context.Context, hashes [][]byte) ([]domain.StockKey, error)
	// ApplyRehash stores plan at: its rehashed keys take their canonical
	// hash; its duplicates (pointing at the key they repeat) and refused
	// keys are withdrawn and held, their ciphertext kept. It returns
	// domain.ErrConflict, storing nothing, when a key it changes is no
	// longer available or a hash is taken meanwhile.
	ApplyRehash(ctx context.Context, plan domain.StockRehashPlan, at time.Time) error
}
