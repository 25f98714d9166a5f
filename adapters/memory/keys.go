package memory

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DataKeys is a DataKeyRepository in memory.
type DataKeys struct {
	mu   sync.Mutex
	keys map[string]ports.WrappedKey
}

// NewDataKeys returns an empty repository.
func NewDataKeys() *DataKeys { return &DataKeys{keys: map[string]ports.WrappedKey{}} }

// Create stores k; domain.ErrConflict if the order has a key.
func (r *DataKeys) Create(_ context.Context, orderID string, k ports.WrappedKey) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[orderID]; ok {
		return fmt.Errorf("%w: data key of order %s exists", domain.ErrConflict, orderID)
	}
	r.keys[orderID] = k
	return nil
}

// Get returns the wrapped key or domain.ErrNotFound.
func (r *DataKeys) Get(_ context.Context, orderID string) (ports.WrappedKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k, ok := r.keys[orderID]
	if !ok {
		return ports.WrappedKey{}, fmt.Errorf("%w: data key of order %s", domain.ErrNotFound, orderID)
	}
	return k, nil
}

// Delete forgets the key.
func (r *DataKeys) Delete(_ context.Context, orderID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, orderID)
	return nil
}

// ListOlderThan returns keys below version, by order id.
func (r *DataKeys) ListOlderThan(_ context.Context, version int, after string, limit int) ([]ports.StoredDataKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ports.StoredDataKey
	for id, k := range r.keys {
		if k.Version < version && id > after {
			out = append(out, ports.StoredDataKey{OrderID: id, Wrapped: k})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrderID < out[j].OrderID })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Replace swaps old for new when old is still stored.
func (r *DataKeys) Replace(_ context.Context, orderID string, old, new ports.WrappedKey) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.keys[orderID]; !ok || cur != old {
		return false, nil
	}
	r.keys[orderID] = new
	return true, nil
}

// Blobs is a BlobStore in memory.
type Blobs struct {
	mu    sync.RWMutex
	blobs map[string][]byte
}

// NewBlobs returns an empty store.
func NewBlobs() *Blobs { return &Blobs{blobs: map[string][]byte{}} }

// Put stores a copy of data.
func (b *Blobs) Put(_ context.Context, ref string, data []byte) error {
	if strings.TrimSpace(ref) == "" {
		return fmt.Errorf("empty blob ref")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.blobs[ref] = append([]byte(nil), data...)
	return nil
}

// Get returns a copy or domain.ErrNotFound.
func (b *Blobs) Get(_ context.Context, ref string) ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	d, ok := b.blobs[ref]
	if !ok {
		return nil, fmt.Errorf("%w: blob %s", domain.ErrNotFound, ref)
	}
	return append([]byte(nil), d...), nil
}

// Delete removes refs.
func (b *Blobs) Delete(_ context.Context, refs ...string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, r := range refs {
		delete(b.blobs, r)
	}
	return nil
}

// Exists reports whether ref is stored.
func (b *Blobs) Exists(_ context.Context, ref string) (bool, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.blobs[ref]
	return ok, nil
}

// CountWrappedBy counts the keys whose ciphertext starts with kind+":".
func (r *DataKeys) CountWrappedBy(_ context.Context, kind string) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range r.keys {
		if strings.HasPrefix(k.Ciphertext, kind+":") {
			n++
		}
	}
	return n, nil
}
