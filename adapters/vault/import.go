package vault

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/keyward/keyward/ports"
)

var _ ports.DataKeyImporter = (*Vault)(nil)

// Kind returns "vault", the prefix of transit ciphertexts.
func (v *Vault) Kind() string { return "vault" }

// ImportDataKey encrypts a data key made elsewhere with transit, under the
// order's derived key: decrypting it with the order's context, as
// UnwrapDataKey does, returns the same bytes. It refuses a key that is not
// 32 bytes.
func (v *Vault) ImportDataKey(ctx context.Context, orderID string, plaintext []byte) (ports.WrappedKey, error) {
	if len(plaintext) != 32 {
		return ports.WrappedKey{}, fmt.Errorf("vault: import: a data key is 32 bytes, got %d", len(plaintext))
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.path("encrypt", v.key), map[string]any{
		"plaintext": base64.StdEncoding.EncodeToString(plaintext), "context": orderContext(orderID),
	})
	if err != nil {
		return ports.WrappedKey{}, classify("import data key", err)
	}
	if s == nil {
		return ports.WrappedKey{}, fmt.Errorf("%w: import data key: empty answer", ports.ErrVaultUnavailable)
	}
	return wrapped(str(s.Data["ciphertext"]))
}
