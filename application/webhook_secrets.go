package application

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// WebhookSecretKeyID is the data key id under which the key that seals the
// webhook signing secrets at rest is stored, wrapped. Like AuditKeyID it
// never names an order: key rotation rewraps it with the others, revoke
// never reaches it.
const WebhookSecretKeyID = "webhook/secrets"

// sealedSecretPrefix marks a signing secret sealed at rest.
const sealedSecretPrefix = "sealed:v1:"

// webhookSecretKey seals the endpoints' signing secrets (AES-256-GCM,
// bound to the endpoint's id) under a data key the key vault makes and
// that is stored only wrapped: the database alone does not give them
// away. The key is unwrapped once per process: one load at a time, which
// every caller shares and waits for as long as its own context allows, so
// that a slow vault holds no caller longer than it would wait anyway.
type webhookSecretKey struct {
	vault    ports.KeyVault
	dataKeys ports.DataKeyRepository

	mu      sync.Mutex
	key     []byte
	loading *secretKeyLoad // the load under way, if any
}

// secretKeyLoad is one load of the key; done is closed when it ends.
type secretKeyLoad struct {
	done chan struct{}
	err  error
}

func (k *webhookSecretKey) aead(ctx context.Context) (cipher.AEAD, error) {
	key, err := k.load(ctx)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	return cipher.NewGCM(block)
}

// load returns the key, starting a load unless one is under way; it waits
// for the load at most as long as ctx lasts (ErrUnavailable then: the load
// goes on, for the next caller).
func (k *webhookSecretKey) load(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	if k.key != nil {
		key := k.key
		k.mu.Unlock()
		return key, nil
	}
	l := k.loading
	if l == nil {
		l = &secretKeyLoad{done: make(chan struct{})}
		k.loading = l
		// In a context of its own: a rolled-back unit of work must not
		// forget a key a secret was sealed with, nor a caller that gives
		// up end the load the others wait for.
		// context.Background, not the caller's values: the key is never
		// created inside a caller's transaction.
		lctx, cancel := context.WithTimeout(context.Background(), auditKeyLoadTimeout)
		go func() {
			defer cancel()
			key, err := k.fetch(lctx)
			k.mu.Lock()
			k.key, l.err, k.loading = key, err, nil
			k.mu.Unlock()
			close(l.done)
		}()
	}
	k.mu.Unlock()
	select {
	case <-l.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: webhook secret key: still loading: %v", ErrUnavailable, ctx.Err())
	}
	if l.err != nil {
		return nil, l.err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.key, nil
}

// fetch unwraps the stored key, or makes and stores one when there is
// none.
func (k *webhookSecretKey) fetch(ctx context.Context) ([]byte, error) {
	raw, err := k.loadStored(ctx)
	if errors.Is(err, domain.ErrNotFound) {
		var dk ports.DataKey
		if dk, err = k.vault.NewDataKey(ctx, WebhookSecretKeyID); err != nil {
			return nil, fmt.Errorf("%w: webhook secret key: %v", ErrUnavailable, err)
		}
		raw = dk.Plaintext
		if err = k.dataKeys.Create(ctx, WebhookSecretKeyID, dk.Wrapped); errors.Is(err, domain.ErrConflict) {
			clear(raw) // another process stored one first
			raw, err = k.loadStored(ctx)
		}
	}
	if err != nil {
		clear(raw)
		return nil, fmt.Errorf("webhook secret key: %w", err)
	}
	if len(raw) != 32 {
		clear(raw)
		return nil, fmt.Errorf("webhook secret key: want 32 bytes, got %d", len(raw))
	}
	return raw, nil
}

func (k *webhookSecretKey) loadStored(ctx context.Context) ([]byte, error) {
	wk, err := k.dataKeys.Get(ctx, WebhookSecretKeyID)
	if err != nil {
		return nil, err
	}
	raw, err := k.vault.UnwrapDataKey(ctx, WebhookSecretKeyID, wk)
	if errors.Is(err, ports.ErrVaultUnavailable) {
		return nil, fmt.Errorf("%w: unwrap: %v", ErrUnavailable, err)
	}
	return raw, err
}

func secretAAD(endpointID string) []byte { return []byte("keyward webhook secret\x00" + endpointID) }

// seal returns secret sealed for endpointID, as stored.
func (k *webhookSecretKey) seal(ctx context.Context, endpointID, secret string) (string, error) {
	aead, err := k.aead(ctx)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("webhook secret nonce: %w", err)
	}
	return sealedSecretPrefix + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), secretAAD(endpointID))), nil
}

// open returns the secret seal made for endpointID; "" opens to "".
func (k *webhookSecretKey) open(ctx context.Context, endpointID, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	raw, ok := strings.CutPrefix(sealed, sealedSecretPrefix)
	data, err := base64.StdEncoding.DecodeString(raw)
	if !ok || err != nil {
		return "", fmt.Errorf("the signing secret of webhook endpoint %s is not sealed", endpointID)
	}
	aead, err := k.aead(ctx)
	if err != nil {
		return "", err
	}
	if len(data) < aead.NonceSize() {
		return "", fmt.Errorf("the signing secret of webhook endpoint %s is truncated", endpointID)
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], secretAAD(endpointID))
	if err != nil {
		return "", fmt.Errorf("the signing secret of webhook endpoint %s does not open: %w", endpointID, err)
	}
	return string(plain), nil
}
