package application

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditKeyID is the data key id under which the audit MAC key is stored,
// wrapped. Order ids are UUIDs, so it never names an order: revoke and the
// shredding, which delete data keys by order id, never reach it, while key
// rotation, which rewraps every stored data key, rewraps it too.
const AuditKeyID = "audit/mac"

// auditKeyLoadTimeout bounds the vault and database calls of a key load.
const auditKeyLoadTimeout = 30 * time.Second

// AuditKey is a ports.AuditMAC: HMAC-SHA256 under a 256-bit data key made
// by the key vault and stored only wrapped (AuditKeyID), so the database
// alone cannot produce a valid MAC. The key is unwrapped once per process
// and used locally: a record costs no vault call.
type AuditKey struct {
	vault    ports.KeyVault
	dataKeys ports.DataKeyRepository

	// signedTrail, when set, reports whether the audit store already holds
	// records MACed under some key: a missing key is then lost or removed,
	// never made anew (a new key would bless whatever the store holds).
	signedTrail func(context.Context) (bool, error)

	mu      sync.Mutex
	key     []byte // nil until loaded
	created bool   // this process made and stored the key
}

// AuditKeyOption configures NewAuditKey.
type AuditKeyOption func(*AuditKey)

// RefuseCreationOver has the key refuse to be made while signed reports
// that the audit store already holds MACed records.
func RefuseCreationOver(signed func(context.Context) (bool, error)) AuditKeyOption {
	return func(k *AuditKey) { k.signedTrail = signed }
}

// ErrAuditKeyMissing is returned when the audit MAC key is not stored but
// records MACed under one are: the key was lost or removed, and making a
// new one would let whoever removed it rewrite the trail.
var ErrAuditKeyMissing = errors.New("the audit MAC key is missing but audit records carry MACs")

var _ ports.AuditMAC = (*AuditKey)(nil)

// NewAuditKey returns the key, loaded on first use (or by Load); it
// panics when a dependency is nil.
func NewAuditKey(vault ports.KeyVault, dataKeys ports.DataKeyRepository, opts ...AuditKeyOption) *AuditKey {
	require("AuditKey", "vault", vault, "dataKeys", dataKeys)
	k := &AuditKey{vault: vault, dataKeys: dataKeys}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Created reports whether this process made and stored the key (the first
// start with it), rather than loading one stored before: only that run may
// adopt a trail written before MACs.
func (k *AuditKey) Created() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.created
}

// Load unwraps the stored key, or makes and stores one when there is none.
// It returns ErrUnavailable wrapping a vault outage, ports.ErrDataKeyInvalid
// when the vault cannot open the stored key (another keyring, another
// transit key).
func (k *AuditKey) Load(ctx context.Context) error {
	_, err := k.load(ctx)
	return err
}

// Sign returns the lowercase hex HMAC-SHA256 of msg; see ports.AuditMAC.
func (k *AuditKey) Sign(ctx context.Context, msg []byte) (string, error) {
	key, err := k.load(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// Verify reports whether mac is msg's MAC; see ports.AuditMAC.
func (k *AuditKey) Verify(ctx context.Context, msg []byte, mac string) (bool, error) {
	want, err := k.Sign(ctx, msg)
	if err != nil {
		return false, err
	}
	return hmac.Equal([]byte(want), []byte(mac)), nil
}

func (k *AuditKey) load(ctx context.Context) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return k.key, nil
	}
	// The first use may come from inside a unit of work: the key is
	// stored in a context of its own, so that a rollback of that work can
	// never forget a key records were already signed with.
	ctx, cancel := detached(ctx, auditKeyLoadTimeout)
	defer cancel()
	raw, err := k.loadStored(ctx)
	created := false
	if errors.Is(err, domain.ErrNotFound) {
		raw, created, err = k.create(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("audit MAC key: %w", err)
	}
	if len(raw) != 32 {
		clear(raw)
		return nil, fmt.Errorf("audit MAC key: want 32 bytes, got %d", len(raw))
	}
	k.key, k.created = raw, created
	return raw, nil
}

func (k *AuditKey) loadStored(ctx context.Context) ([]byte, error) {
	wk, err := k.dataKeys.Get(ctx, AuditKeyID)
	if err != nil {
		return nil, err
	}
	raw, err := k.vault.UnwrapDataKey(ctx, AuditKeyID, wk)
	switch {
	case errors.Is(err, ports.ErrVaultUnavailable):
		return nil, fmt.Errorf("%w: unwrap: %v", ErrUnavailable, err)
	case errors.Is(err, ports.ErrDataKeyInvalid):
		return nil, fmt.Errorf("the key vault does not open the stored key: is this the right keyring file or transit key? %w", err)
	}
	return raw, err
}

// create makes and stores the key and reports whether this call stored
// it (false: another process stored one first, which it loaded).
func (k *AuditKey) create(ctx context.Context) ([]byte, bool, error) {
	if k.signedTrail != nil {
		signed, err := k.signedTrail(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("look for MACed audit records before making a key: %w", err)
		}
		if signed {
			return nil, false, fmt.Errorf("%w: data key %s is not stored; restore it from a backup of the database, and treat its loss as an incident (no new key is made over a MACed trail)", ErrAuditKeyMissing, AuditKeyID)
		}
	}
	dk, err := k.vault.NewDataKey(ctx, AuditKeyID)
	if err != nil {
		return nil, false, fmt.Errorf("%w: new key: %v", ErrUnavailable, err)
	}
	if err := k.dataKeys.Create(ctx, AuditKeyID, dk.Wrapped); err != nil {
		clear(dk.Plaintext)
		if errors.Is(err, domain.ErrConflict) { // another process stored one first
			raw, err := k.loadStored(ctx)
			return raw, false, err
		}
		return nil, false, fmt.Errorf("store: %w", err)
	}
	return dk.Plaintext, true, nil
}

// detached returns a context without parent's values (so without its unit
// of work) that ends when parent does or after timeout.
func detached(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	stop := context.AfterFunc(parent, cancel)
	return ctx, func() { stop(); cancel() }
}
