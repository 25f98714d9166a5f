package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/ports"
)

// migratingVault is the key vault of a shop moving its data keys to
// another vault: the target makes every new key, and a stored key opens
// with the vault that wrapped it, so that orders reveal whichever side of
// the move their key is on. Serve and worker use it on Vault while the
// keyring file still exists; `keyward keys migrate` uses it for the audit
// MAC key, which may be on either side depending on how far an earlier
// run came.
type migratingVault struct {
	ports.DataKeyImporter                // the target: new keys, rotation, Kind
	from                  ports.KeyVault // opens the keys not yet moved
}

var _ ports.KeyVersionFloor = migratingVault{}

// UnwrapDataKey opens k with the vault that wrapped it.
func (v migratingVault) UnwrapDataKey(ctx context.Context, id string, k ports.WrappedKey) ([]byte, error) {
	if v.wraps(k) {
		return v.DataKeyImporter.UnwrapDataKey(ctx, id, k)
	}
	return v.from.UnwrapDataKey(ctx, id, k)
}

// Rewrap rewraps the target's keys under its latest version and moves the
// source's to the target (unwrapped, then imported), so that a rotation
// during the move leaves no key behind on the source. Results are in
// request order; the first failure fails the batch, wrapping
// ports.ErrDataKeyInvalid when a key opens under neither vault.
func (v migratingVault) Rewrap(ctx context.Context, reqs []ports.RewrapRequest) ([]ports.WrappedKey, error) {
	out := make([]ports.WrappedKey, len(reqs))
	var own []ports.RewrapRequest
	var at []int
	for i, r := range reqs {
		if v.wraps(r.Wrapped) {
			own, at = append(own, r), append(at, i)
			continue
		}
		wk, err := v.move(ctx, r)
		if err != nil {
			return nil, err
		}
		out[i] = wk
	}
	if len(own) == 0 {
		return out, nil
	}
	rewrapped, err := v.DataKeyImporter.Rewrap(ctx, own)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		out[i] = rewrapped[j]
	}
	return out, nil
}

// move wraps the source's key r with the target, zeroing the plaintext.
func (v migratingVault) move(ctx context.Context, r ports.RewrapRequest) (ports.WrappedKey, error) {
	raw, err := v.from.UnwrapDataKey(ctx, r.OrderID, r.Wrapped)
	if err != nil {
		clear(raw)
		return ports.WrappedKey{}, fmt.Errorf("move data key %s: %w", r.OrderID, err)
	}
	wk, err := v.DataKeyImporter.ImportDataKey(ctx, r.OrderID, raw)
	clear(raw)
	if err != nil {
		return ports.WrappedKey{}, fmt.Errorf("move data key %s: %w", r.OrderID, err)
	}
	return wk, nil
}

// Health returns nil when both vaults can serve: a key not yet moved
// needs the source to reveal.
func (v migratingVault) Health(ctx context.Context) error {
	return errors.Join(v.DataKeyImporter.Health(ctx), v.from.Health(ctx))
}

// SetMinDecryptionVersion raises the target's floor (the source's keys
// carry versions of their own, which the target's floor does not
// concern); it does nothing for a target without one.
func (v migratingVault) SetMinDecryptionVersion(ctx context.Context, version int) error {
	if f, ok := v.DataKeyImporter.(ports.KeyVersionFloor); ok {
		return f.SetMinDecryptionVersion(ctx, version)
	}
	return nil
}

// wraps reports whether the target wrapped k.
func (v migratingVault) wraps(k ports.WrappedKey) bool {
	return strings.HasPrefix(k.Ciphertext, v.Kind()+":")
}
