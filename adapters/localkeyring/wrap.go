package localkeyring

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward/ports"
)

const (
	prefix     = "local"
	aadPrefix  = "keyward/datakey/v1|"
	dataKeyLen = 32
	// sealedLen is nonce(12) ‖ ciphertext(32) ‖ tag(16).
	sealedLen = 12 + dataKeyLen + 16
)

// seal wraps dataKey for orderID under master; the result is
// nonce ‖ ciphertext ‖ tag.
func seal(master, dataKey []byte, orderID string) ([]byte, error) {
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, dataKey, aad(orderID)), nil
}

// open unwraps sealed for orderID; ports.ErrDataKeyInvalid when it does not
// authenticate.
func open(master, sealed []byte, orderID string) ([]byte, error) {
	if len(sealed) != sealedLen {
		return nil, fmt.Errorf("%w: wrapped key has the wrong length", ports.ErrDataKeyInvalid)
	}
	aead, err := newAEAD(master)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, nil, sealed, aad(orderID))
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ports.ErrDataKeyInvalid)
	}
	return pt, nil
}

// newAEAD returns AES-256-GCM with a random 96-bit nonce prepended by Seal.
// Errors name no key material.
func newAEAD(master []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("localkeyring: master key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("localkeyring: gcm: %w", err)
	}
	return aead, nil
}

// aad binds a data key to its order, as Vault's derived-key context does.
func aad(orderID string) []byte { return []byte(aadPrefix + orderID) }

// formatCiphertext returns "local:v<N>:<base64 std>".
func formatCiphertext(version int, sealed []byte) string {
	return prefix + ":v" + strconv.Itoa(version) + ":" + base64.StdEncoding.EncodeToString(sealed)
}

// parseCiphertext splits "local:v<N>:<base64>"; ports.ErrDataKeyInvalid
// when it is malformed. The version in the ciphertext is authoritative,
// not WrappedKey.Version.
func parseCiphertext(ct string) (version int, sealed []byte, err error) {
	rest, ok := strings.CutPrefix(ct, prefix+":v")
	if !ok {
		return 0, nil, fmt.Errorf("%w: not a local keyring ciphertext", ports.ErrDataKeyInvalid)
	}
	v, payload, ok := strings.Cut(rest, ":")
	version, convErr := strconv.Atoi(v)
	if !ok || convErr != nil || version < 1 || strconv.Itoa(version) != v {
		return 0, nil, fmt.Errorf("%w: malformed version", ports.ErrDataKeyInvalid)
	}
	sealed, err = base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: malformed payload", ports.ErrDataKeyInvalid)
	}
	return version, sealed, nil
}
