package localkeyring

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/ports"
)

var _ ports.DataKeyImporter = (*Keyring)(nil)

// Kind returns "local", the prefix of the keyring's ciphertexts.
func (k *Keyring) Kind() string { return prefix }

// ImportDataKey wraps a data key made elsewhere, bound to orderID, under
// the latest master version; it refuses a key that is not 32 bytes.
func (k *Keyring) ImportDataKey(_ context.Context, orderID string, plaintext []byte) (ports.WrappedKey, error) {
	if len(plaintext) != dataKeyLen {
		return ports.WrappedKey{}, fmt.Errorf("localkeyring: import: a data key is %d bytes, got %d", dataKeyLen, len(plaintext))
	}
	return k.wrap(plaintext, orderID)
}
