package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/ports"
)

// VerifyKeyVault checks, before keyward serves, that the configured key
// vault opens the data keys already stored: a lost or wrong keyring file, or
// another transit key, would otherwise fail every reveal.
type VerifyKeyVault struct {
	keys envelope
}

// NewVerifyKeyVault wires VerifyKeyVault; it panics when a dependency is nil.
func NewVerifyKeyVault(dataKeys ports.DataKeyRepository, vault ports.KeyVault) VerifyKeyVault {
	require("VerifyKeyVault", "dataKeys", dataKeys, "vault", vault)
	return VerifyKeyVault{keys: envelope{dataKeys: dataKeys, vault: vault}}
}

// Handle returns nil when no key is stored or one of a sample opens; an
// error wrapping ports.ErrDataKeyInvalid when none of the sample opens; an
// error wrapping ErrUnavailable when the vault cannot be reached.
func (h VerifyKeyVault) Handle(ctx context.Context) error {
	err := h.keys.opensStored(ctx)
	if errors.Is(err, ports.ErrDataKeyInvalid) {
		return fmt.Errorf("the key vault opens none of the stored data keys it tried: is this the right keyring file or transit key? %w", err)
	}
	return err
}
