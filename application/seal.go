package application

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// errSealBroken means a sealed key failed authentication: wrong data key,
// wrong slot, or tampered ciphertext.
var errSealBroken = errors.New("sealed key does not open")

// sealAAD binds a sealed key to its order, item and slot, so a ciphertext
// moved to another place does not open.
func sealAAD(orderID, itemID string, slot int) []byte {
	return fmt.Appendf(nil, "keyward/key/v1|%s|%s|%d", orderID, itemID, slot)
}

// sealKey encrypts a plaintext key with AES-256-GCM under the data key. The
// result is nonce ‖ ciphertext ‖ tag.
func sealKey(dataKey, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plaintext)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

// openKey reverses sealKey; errSealBroken when authentication fails.
func openKey(dataKey, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(dataKey)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize()+gcm.Overhead() {
		return nil, errSealBroken
	}
	n := gcm.NonceSize()
	pt, err := gcm.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, errSealBroken
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("data key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
