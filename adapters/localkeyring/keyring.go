// Package localkeyring is the embedded KeyVault: per-order data keys wrapped
// with AES-256-GCM under a versioned keyring of 256-bit master keys kept in
// a JSON file (or only in memory, for tests).
//
// It mirrors Vault transit with a derived key: the order id is bound into
// every wrapped key (as GCM additional data), versions rotate, old keys are
// rewrapped and old versions can be retired with SetMinDecryptionVersion.
//
// A keyring file belongs to one process: a rotation made by another process
// sharing the file is not seen until Open is called again, and the two
// would overwrite each other's rotations.
package localkeyring

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/keyward/keyward/ports"
)

const masterKeyLen = 32

// state is the keyring proper. Master keys are never mutated once added, so
// a reader may keep a key slice after releasing the lock.
type state struct {
	masters    [][]byte // version i+1 at index i
	minVersion int
}

func (s *state) latest() int { return len(s.masters) }

// Keyring is a ports.KeyVault backed by local master keys. It is safe for
// concurrent use.
type Keyring struct {
	path string // "" for an in-memory keyring

	mu    sync.RWMutex
	state *state // replaced, never modified, under mu
}

var _ ports.KeyVault = (*Keyring)(nil)

// Open loads the keyring at path, creating its directory (0700) and a file
// (0600) holding one fresh master key when it does not exist. It returns an
// error when the file is unreadable, corrupt or cannot be created.
func Open(path string) (*Keyring, error) {
	s, err := load(path)
	if err == nil {
		return &Keyring{path: path, state: s}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("localkeyring: open: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("localkeyring: create directory: %w", err)
	}
	s = newState()
	if err := save(path, s); err != nil {
		return nil, fmt.Errorf("localkeyring: create: %w", err)
	}
	return &Keyring{path: path, state: s}, nil
}

// NewInMemory returns a keyring with one fresh master key that is never
// persisted. Its error is always nil today (crypto/rand cannot fail since
// Go 1.24); it is kept so callers treat it like Open.
func NewInMemory() (*Keyring, error) {
	return &Keyring{state: newState()}, nil
}

func newState() *state {
	return &state{masters: [][]byte{randomBytes(masterKeyLen)}, minVersion: 1}
}

// NewDataKey returns 32 random bytes and their wrapping under the latest
// master version, bound to orderID. It does not fail in practice.
func (k *Keyring) NewDataKey(_ context.Context, orderID string) (ports.DataKey, error) {
	pt := randomBytes(dataKeyLen)
	w, err := k.wrap(pt, orderID)
	if err != nil {
		clear(pt)
		return ports.DataKey{}, err
	}
	return ports.DataKey{Plaintext: pt, Wrapped: w}, nil
}

// UnwrapDataKey returns the data key inside w; ports.ErrDataKeyInvalid when
// w is malformed, tampered with, bound to another order, or wrapped under a
// version that is unknown or below the minimum decryption version.
func (k *Keyring) UnwrapDataKey(_ context.Context, orderID string, w ports.WrappedKey) ([]byte, error) {
	version, sealed, err := parseCiphertext(w.Ciphertext)
	if err != nil {
		return nil, err
	}
	k.mu.RLock()
	s := k.state
	k.mu.RUnlock()
	if version > s.latest() {
		return nil, fmt.Errorf("%w: unknown key version %d", ports.ErrDataKeyInvalid, version)
	}
	if version < s.minVersion {
		return nil, fmt.Errorf("%w: key version %d is below the minimum %d", ports.ErrDataKeyInvalid, version, s.minVersion)
	}
	return open(s.masters[version-1], sealed, orderID)
}

// Rewrap returns the keys re-wrapped under the latest version, in request
// order. It fails as a whole, with UnwrapDataKey's errors, if any key does
// not open; plaintexts are zeroed before it returns.
func (k *Keyring) Rewrap(ctx context.Context, reqs []ports.RewrapRequest) ([]ports.WrappedKey, error) {
	out := make([]ports.WrappedKey, len(reqs))
	for i, r := range reqs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rewrap: %w", err)
		}
		pt, err := k.UnwrapDataKey(ctx, r.OrderID, r.Wrapped)
		if err != nil {
			return nil, fmt.Errorf("rewrap key %d: %w", i, err)
		}
		out[i], err = k.wrap(pt, r.OrderID)
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("rewrap key %d: %w", i, err)
		}
	}
	return out, nil
}

// Rotate adds a master key version, persists the keyring and returns the
// new version; on error the keyring is unchanged.
func (k *Keyring) Rotate(_ context.Context) (int, error) {
	key := randomBytes(masterKeyLen)
	k.mu.Lock()
	defer k.mu.Unlock()
	// Clip so that append copies: readers may hold the old slice.
	next := &state{masters: append(slices.Clip(k.state.masters), key), minVersion: k.state.minVersion}
	if err := k.persist(next); err != nil {
		return 0, fmt.Errorf("localkeyring: rotate: %w", err)
	}
	k.state = next
	return next.latest(), nil
}

// SetMinDecryptionVersion refuses, from now on, keys wrapped under versions
// below v, and persists that. It returns an error, leaving the keyring
// unchanged, when v is not between 1 and the latest version or the file
// cannot be written.
func (k *Keyring) SetMinDecryptionVersion(_ context.Context, v int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v < 1 || v > k.state.latest() {
		return fmt.Errorf("localkeyring: min decryption version %d outside 1..%d", v, k.state.latest())
	}
	next := &state{masters: k.state.masters, minVersion: v}
	if err := k.persist(next); err != nil {
		return fmt.Errorf("localkeyring: set min decryption version: %w", err)
	}
	k.state = next
	return nil
}

// LatestVersion returns the master key version new keys are wrapped under.
func (k *Keyring) LatestVersion() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.state.latest()
}

// Health returns nil for an in-memory keyring; for a file-backed one it
// returns an error wrapping ports.ErrVaultUnavailable when the file can no
// longer be read or parsed (keys made now could not survive a restart).
func (k *Keyring) Health(_ context.Context) error {
	if k.path == "" {
		return nil
	}
	s, err := load(k.path)
	if err != nil {
		return fmt.Errorf("%w: localkeyring: %w", ports.ErrVaultUnavailable, err)
	}
	for _, m := range s.masters {
		clear(m)
	}
	return nil
}

func (k *Keyring) wrap(pt []byte, orderID string) (ports.WrappedKey, error) {
	k.mu.RLock()
	s := k.state
	k.mu.RUnlock()
	sealed, err := seal(s.masters[s.latest()-1], pt, orderID)
	if err != nil {
		return ports.WrappedKey{}, err
	}
	return ports.WrappedKey{Ciphertext: formatCiphertext(s.latest(), sealed), Version: s.latest()}, nil
}

func (k *Keyring) persist(s *state) error {
	if k.path == "" {
		return nil
	}
	return save(k.path, s)
}

// randomBytes returns n bytes from crypto/rand, which never fails (it
// aborts the program instead).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
