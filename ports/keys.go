package ports

import (
	"context"
	"errors"
)

// Key vault errors.
var (
	// ErrVaultUnavailable means the vault could not be reached or is
	// sealed: retry later; never fail an order for it.
	ErrVaultUnavailable = errors.New("key vault unavailable")
	// ErrDataKeyInvalid means a wrapped key does not open under the given
	// order (wrong context, tampered, or too old a version).
	ErrDataKeyInvalid = errors.New("data key cannot be unwrapped")
)

// WrappedKey is a data key encrypted by the vault: an opaque ciphertext
// ("vault:v3:…", "local:v1:…") and the key version that wrapped it.
type WrappedKey struct {
	Ciphertext string
	Version    int
}

// DataKey is a fresh data key: the plaintext is for sealing now and must be
// zeroed after use; only Wrapped is ever stored.
type DataKey struct {
	Plaintext []byte
	Wrapped   WrappedKey
}

// RewrapRequest names a wrapped key and the order it is bound to.
type RewrapRequest struct {
	OrderID string
	Wrapped WrappedKey
}

// KeyVault makes and opens per-order data keys, bound to the order id.
type KeyVault interface {
	// NewDataKey returns a new 256-bit data key bound to orderID;
	// ErrVaultUnavailable when the vault cannot be reached.
	NewDataKey(ctx context.Context, orderID string) (DataKey, error)
	// UnwrapDataKey returns the plaintext data key; ErrDataKeyInvalid when
	// it does not open under orderID, ErrVaultUnavailable when unreachable.
	UnwrapDataKey(ctx context.Context, orderID string, k WrappedKey) ([]byte, error)
	// Rewrap re-encrypts wrapped keys under the latest key version without
	// exposing them; results are in request order.
	Rewrap(ctx context.Context, reqs []RewrapRequest) ([]WrappedKey, error)
	// Rotate adds a key version and returns it.
	Rotate(ctx context.Context) (int, error)
	// Health returns nil when the vault can wrap and unwrap now.
	Health(ctx context.Context) error
}

// KeyVersionFloor is implemented by vaults that can refuse ciphertexts
// below a key version; rotation raises it once every key is rewrapped.
type KeyVersionFloor interface {
	SetMinDecryptionVersion(ctx context.Context, version int) error
}

// DataKeyImporter is a KeyVault that can wrap a data key it did not make,
// so that the stored keys of another vault can move to it.
type DataKeyImporter interface {
	KeyVault
	// Kind names the vault's ciphertexts: every key it wraps starts with
	// Kind()+":" ("vault", "local").
	Kind() string
	// ImportDataKey wraps plaintext, a 32-byte data key, bound to orderID
	// under the latest key version, as NewDataKey would have; it returns
	// an error for a key of another length, ErrVaultUnavailable when the
	// vault cannot be reached. It keeps no copy of plaintext.
	ImportDataKey(ctx context.Context, orderID string, plaintext []byte) (WrappedKey, error)
}
