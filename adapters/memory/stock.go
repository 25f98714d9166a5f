package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Stock is a ports.StockRepository in memory. One mutex makes every claim
// atomic, which is what SKIP LOCKED gives the Postgres one.
type Stock struct {
	mu         sync.Mutex
	keys       map[domain.StockKeyID]*domain.StockKey
	hashes     map[string]bool
	duplicates map[domain.StockKeyID]bool // withdrawn by a rehash
	sourcing   map[string]domain.Sourcing
}

var _ ports.StockRepository = (*Stock)(nil)

// NewStock returns an empty stock.
func NewStock() *Stock {
	return &Stock{keys: map[domain.StockKeyID]*domain.StockKey{}, hashes: map[string]bool{}, duplicates: map[domain.StockKeyID]bool{},
		sourcing: map[string]domain.Sourcing{}}
}

// Add stores the keys whose hash is new and returns their ids. It has no
// key of the old hash form, so no LegacyHash can match.
func (s *Stock) Add(_ context.Context, keys []domain.StockKey) ([]domain.StockKeyID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var added []domain.StockKeyID
	for _, k := range keys {
		if s.hashes[string(k.Hash)] {
			continue
		}
		if _, ok := s.keys[k.ID]; ok {
			return added, fmt.Errorf("%w: stock key %s exists", domain.ErrConflict, k.ID)
		}
		c := k
		c.Hash, c.Sealed, c.LegacyHash = append([]byte(nil), k.Hash...), append([]byte(nil), k.Sealed...), nil
		c.Status, c.ItemID = domain.StockAvailable, ""
		s.keys[k.ID] = &c
		s.hashes[string(k.Hash)] = true
		added = append(added, k.ID)
	}
	return added, nil
}

// Claim assigns n available keys of sku to itemID, oldest first.
func (s *Stock) Claim(_ context.Context, sku, itemID string, n int) ([]domain.StockKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var mine, free []*domain.StockKey
	for _, k := range s.keys {
		switch {
		case k.SKU != sku:
		case k.Status == domain.StockAssigned && k.ItemID == itemID:
			mine = append(mine, k)
		case k.Status == domain.StockAvailable:
			free = append(free, k)
		}
	}
	if len(mine)+len(free) < n {
		return nil, fmt.Errorf("%w: %s has %d keys in stock, %d asked", domain.ErrOutOfStock, sku, len(free), n-len(mine))
	}
	byAge := func(ks []*domain.StockKey) {
		sort.Slice(ks, func(i, j int) bool {
			if !ks[i].CreatedAt.Equal(ks[j].CreatedAt) {
				return ks[i].CreatedAt.Before(ks[j].CreatedAt)
			}
			return ks[i].ID < ks[j].ID
		})
	}
	byAge(mine)
	byAge(free)
	out := make([]domain.StockKey, 0, n)
	for _, k := range append(mine, free...)[:n] {
		k.Status, k.ItemID = domain.StockAssigned, itemID
		out = append(out, *k)
		// The ciphertext is kept while the claim may still be resumed: a
		// memory store cannot roll back, so a failed re-seal must find it.
	}
	return out, nil
}

// Withdraw takes an available key out of the stock.
func (s *Stock) Withdraw(_ context.Context, sku string, id domain.StockKeyID, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok || k.SKU != sku {
		return fmt.Errorf("%w: stock key %s of %s", domain.ErrNotFound, id, sku)
	}
	if k.Status != domain.StockAvailable {
		return fmt.Errorf("%w: stock key %s is %s", domain.ErrInvalidTransition, id, k.Status)
	}
	k.Status, k.Sealed = domain.StockWithdrawn, nil
	return nil
}

// Counts returns how many keys of sku are in each status.
func (s *Stock) Counts(_ context.Context, sku string) (domain.StockCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c domain.StockCounts
	for _, k := range s.keys {
		if k.SKU != sku {
			continue
		}
		switch k.Status {
		case domain.StockAvailable:
			c.Available++
		case domain.StockAssigned:
			c.Assigned++
		case domain.StockWithdrawn:
			c.Withdrawn++
		}
	}
	return c, nil
}

// SetSourcing stores the sourcing mode of sku.
func (s *Stock) SetSourcing(_ context.Context, sku string, m domain.Sourcing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sourcing[sku] = m
	return nil
}

// Sourcing returns the mode stored for sku or domain.ErrNotFound.
func (s *Stock) Sourcing(_ context.Context, sku string) (domain.Sourcing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.sourcing[sku]
	if !ok {
		return domain.Sourcing{}, fmt.Errorf("%w: sourcing of %s", domain.ErrNotFound, sku)
	}
	return m, nil
}

// AssignedTo returns the ids of the keys assigned to itemID (for tests).
func (s *Stock) AssignedTo(itemID string) []domain.StockKeyID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []domain.StockKeyID
	for id, k := range s.keys {
		if k.Status == domain.StockAssigned && k.ItemID == itemID {
			ids = append(ids, id)
		}
	}
	return ids
}

// Available returns the ids of sku's available keys, oldest first (for
// tests and tools: it shows no key).
func (s *Stock) Available(sku string) []domain.StockKeyID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []*domain.StockKey
	for _, k := range s.keys {
		if k.SKU == sku && k.Status == domain.StockAvailable {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		return ks[i].CreatedAt.Before(ks[j].CreatedAt) || ks[i].CreatedAt.Equal(ks[j].CreatedAt) && ks[i].ID < ks[j].ID
	})
	ids := make([]domain.StockKeyID, len(ks))
	for i, k := range ks {
		ids[i] = k.ID
	}
	return ids
}

// PendingRehash returns none: a memory stock holds only keys it stored
// with their canonical hash, never keys of the old hash form.
func (s *Stock) PendingRehash(context.Context, int) ([]domain.StockKey, error) { return nil, nil }

// HashHolders returns the keys known by any of hashes (withdrawn
// duplicates keep no hash of their own here).
func (s *Stock) HashHolders(_ context.Context, hashes [][]byte) ([]domain.StockKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := make(map[string]bool, len(hashes))
	for _, h := range hashes {
		want[string(h)] = true
	}
	var out []domain.StockKey
	for _, k := range s.keys {
		if want[string(k.Hash)] && !s.duplicates[k.ID] {
			out = append(out, *k)
		}
	}
	return out, nil
}

// ApplyRehash withdraws and holds the plan's duplicates and refused keys
// (their ciphertext kept) and gives its kept keys their canonical hash,
// all or nothing.
func (s *Stock) ApplyRehash(_ context.Context, plan domain.StockRehashPlan, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range slices.Concat(plan.Rehashed, duplicateKeys(plan), plan.Refused) {
		if cur, ok := s.keys[k.ID]; !ok || cur.Status != domain.StockAvailable {
			return fmt.Errorf("%w: stock key %s is no longer available", domain.ErrConflict, k.ID)
		}
	}
	for _, d := range plan.Duplicates {
		k := s.keys[d.Key.ID]
		k.Status, k.Hash = domain.StockWithdrawn, append([]byte(nil), d.Key.Hash...) // held: ciphertext kept
		s.duplicates[k.ID] = true
	}
	for _, r := range plan.Refused {
		s.keys[r.ID].Status = domain.StockWithdrawn // held: ciphertext kept
	}
	for _, r := range plan.Rehashed {
		k := s.keys[r.ID]
		k.Hash = append([]byte(nil), r.Hash...)
		s.hashes[string(r.Hash)] = true
	}
	return nil
}

func duplicateKeys(plan domain.StockRehashPlan) []domain.StockKey {
	out := make([]domain.StockKey, len(plan.Duplicates))
	for i, d := range plan.Duplicates {
		out[i] = d.Key
	}
	return out
}

// Restock puts keys assigned to itemID back into the stock.
func (s *Stock) Restock(_ context.Context, sku, itemID string, keys []domain.StockKey, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		cur, ok := s.keys[k.ID]
		if !ok || cur.SKU != sku {
			return fmt.Errorf("%w: stock key %s of %s", domain.ErrNotFound, k.ID, sku)
		}
		if cur.Status != domain.StockAssigned || cur.ItemID != itemID || len(k.Sealed) == 0 {
			return fmt.Errorf("%w: stock key %s is %s, not assigned to %s", domain.ErrInvalidTransition, k.ID, cur.Status, itemID)
		}
	}
	for _, k := range keys {
		cur := s.keys[k.ID]
		cur.Status, cur.ItemID, cur.Sealed = domain.StockAvailable, "", append([]byte(nil), k.Sealed...)
	}
	return nil
}
