package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// IdempotencyKeys is a ports.IdempotencyKeys in memory.
type IdempotencyKeys struct {
	mu   sync.Mutex
	keys map[string][2]string // order id, fingerprint
}

// NewIdempotencyKeys returns no keys.
func NewIdempotencyKeys() *IdempotencyKeys { return &IdempotencyKeys{keys: map[string][2]string{}} }

// Remember records key; domain.ErrConflict when it is recorded already.
func (k *IdempotencyKeys) Remember(_ context.Context, key, fingerprint, orderID string, _ time.Time) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[key]; ok {
		return fmt.Errorf("%w: idempotency key recorded", domain.ErrConflict)
	}
	k.keys[key] = [2]string{orderID, fingerprint}
	return nil
}

// Lookup returns what key recorded, or domain.ErrNotFound.
func (k *IdempotencyKeys) Lookup(_ context.Context, key string) (string, string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.keys[key]
	if !ok {
		return "", "", fmt.Errorf("idempotency key: %w", domain.ErrNotFound)
	}
	return v[0], v[1], nil
}

// DeadLetters is a ports.DeadLetters in memory.
type DeadLetters struct {
	mu      sync.Mutex
	letters map[string]ports.DeadLetter
}

// NewDeadLetters returns no letters.
func NewDeadLetters() *DeadLetters { return &DeadLetters{letters: map[string]ports.DeadLetter{}} }

func copyLetter(l ports.DeadLetter) ports.DeadLetter {
	l.Payload = slices.Clone(l.Payload)
	l.Metadata = maps.Clone(l.Metadata)
	if l.ReplayedAt != nil {
		at := *l.ReplayedAt
		l.ReplayedAt = &at
	}
	return l
}

// Add stores l; domain.ErrConflict on a duplicate id.
func (d *DeadLetters) Add(_ context.Context, l ports.DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.letters[l.ID]; ok {
		return fmt.Errorf("%w: dead letter %s exists", domain.ErrConflict, l.ID)
	}
	d.letters[l.ID] = copyLetter(l)
	return nil
}

// List returns letters matching q, ordered by id.
func (d *DeadLetters) List(_ context.Context, q ports.DeadLetterQuery) ([]ports.DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []ports.DeadLetter
	for _, l := range d.letters {
		if (q.Topic == "" || l.Topic == q.Topic) && (q.OrderID == "" || l.OrderID == q.OrderID) && l.ID > q.After {
			out = append(out, copyLetter(l))
		}
	}
	slices.SortFunc(out, func(a, b ports.DeadLetter) int { return strings.Compare(a.ID, b.ID) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// Get returns a letter or domain.ErrNotFound.
func (d *DeadLetters) Get(_ context.Context, id string) (ports.DeadLetter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.letters[id]
	if !ok {
		return ports.DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, domain.ErrNotFound)
	}
	return copyLetter(l), nil
}

// MarkReplayed records the first replay and reports whether this was it.
func (d *DeadLetters) MarkReplayed(_ context.Context, id string, at time.Time) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.letters[id]
	if !ok {
		return false, fmt.Errorf("dead letter %s: %w", id, domain.ErrNotFound)
	}
	if l.ReplayedAt != nil {
		return false, nil
	}
	l.ReplayedAt = &at
	d.letters[id] = l
	return true, nil
}

// Count returns how many letters are not replayed yet.
func (d *DeadLetters) Count(context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, l := range d.letters {
		if l.ReplayedAt == nil {
			n++
		}
	}
	return n, nil
}

// Delete removes a letter; domain.ErrNotFound for an unknown id.
func (d *DeadLetters) Delete(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.letters[id]; !ok {
		return fmt.Errorf("dead letter %s: %w", id, domain.ErrNotFound)
	}
	delete(d.letters, id)
	return nil
}
