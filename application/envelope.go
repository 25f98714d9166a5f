package application

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// errSealBroken means a sealed key failed authentication: wrong data key,
// wrong slot, or tampered ciphertext.
var errSealBroken = errors.New("sealed key does not open")

// envelope is envelope encryption of an order's keys: each key is sealed
// with AES-256-GCM under the order's data key and stored as a blob, and the
// data key is stored only wrapped by the key vault. It is the one place
// keyward seals, opens and shreds keys.
type envelope struct {
	dataKeys ports.DataKeyRepository
	vault    ports.KeyVault
	blobs    ports.BlobStore
}

// orderKey is an order's plaintext data key, held only while its keys are
// sealed or opened. Close zeroes it.
type orderKey struct {
	orderID string
	aead    cipher.AEAD
	raw     []byte
}

// Close zeroes the data key. The AEAD keeps its own expanded key schedule,
// which Go gives no way to clear; it is dropped with the orderKey.
func (k *orderKey) Close() {
	if k != nil {
		clear(k.raw)
	}
}

// forOrder returns the order's data key, creating and storing a wrapped one
// on first use. ErrUnavailable wraps a vault outage.
func (e envelope) forOrder(ctx context.Context, orderID string) (*orderKey, error) {
	k, created, err := e.forOrderUnstored(ctx, orderID)
	if err != nil || created == nil {
		return k, err
	}
	if err := e.dataKeys.Create(ctx, orderID, *created); err != nil {
		k.Close()
		if errors.Is(err, domain.ErrConflict) { // a concurrent run stored one first
			return e.open(ctx, orderID)
		}
		return nil, fmt.Errorf("store data key: %w", err)
	}
	return k, nil
}

// forOrderUnstored is forOrder, but a data key it creates is returned
// (created, wrapped) without being stored: the caller stores it
// (dataKeys.Create) in a unit of work that commits before, or with,
// anything that references what the key seals (fulfilment).
func (e envelope) forOrderUnstored(ctx context.Context, orderID string) (k *orderKey, created *ports.WrappedKey, err error) {
	k, err = e.open(ctx, orderID)
	if !errors.Is(err, domain.ErrNotFound) {
		return k, nil, err
	}
	dk, err := e.vault.NewDataKey(ctx, orderID)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: new data key: %v", ErrUnavailable, err)
	}
	if k, err = newOrderKey(orderID, dk.Plaintext); err != nil {
		return nil, nil, err
	}
	return k, &dk.Wrapped, nil
}

// open returns the order's existing data key: domain.ErrNotFound when it
// has none (never fulfilled, or shredded), ErrUnavailable wrapping a vault
// outage, ports.ErrDataKeyInvalid when the vault cannot open it.
func (e envelope) open(ctx context.Context, orderID string) (*orderKey, error) {
	wk, err := e.dataKeys.Get(ctx, orderID)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("load data key: %w", err)
	}
	return e.unwrap(ctx, orderID, wk)
}

func (e envelope) unwrap(ctx context.Context, orderID string, wk ports.WrappedKey) (*orderKey, error) {
	raw, err := e.vault.UnwrapDataKey(ctx, orderID, wk)
	if errors.Is(err, ports.ErrVaultUnavailable) {
		return nil, fmt.Errorf("%w: unwrap data key: %v", ErrUnavailable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	return newOrderKey(orderID, raw)
}

func newOrderKey(orderID string, raw []byte) (*orderKey, error) {
	if len(raw) != 32 {
		clear(raw)
		return nil, fmt.Errorf("data key must be 32 bytes, got %d", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		clear(raw)
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		clear(raw)
		return nil, err
	}
	return &orderKey{orderID: orderID, aead: aead, raw: raw}, nil
}

// seal encrypts one key for its item and slot: nonce ‖ ciphertext ‖ tag,
// bound (as additional data) to the order, item and slot, so a ciphertext
// moved to another place does not open.
func (k *orderKey) seal(itemID string, slot int, plaintext []byte) []byte {
	return k.aead.Seal(nil, nil, plaintext, sealAAD(k.orderID, itemID, slot))
}

// store seals one key and writes it to the blob store at its ref, which it
// returns; ErrUnavailable wraps a blob store failure.
func (e envelope) store(ctx context.Context, k *orderKey, itemID string, slot int, plaintext []byte) (string, error) {
	ref := blobRef(k.orderID, itemID, slot)
	if err := e.blobs.Put(ctx, ref, k.seal(itemID, slot, plaintext)); err != nil {
		return "", fmt.Errorf("%w: store sealed key: %v", ErrUnavailable, err)
	}
	return ref, nil
}

// load reads one sealed key and opens it: domain.ErrNotFound when the
// ciphertext is gone (shredded), ErrUnavailable wrapping a blob store
// failure, errSealBroken when it does not open.
func (e envelope) load(ctx context.Context, k *orderKey, itemID string, slot int, ref string) ([]byte, error) {
	return e.loadFrom(ctx, e.blobs.Get, k, itemID, slot, ref)
}

// loadFrom is load reading the sealed key with get, a BlobStore's Get or
// what answers as it does.
func (e envelope) loadFrom(ctx context.Context, get func(context.Context, string) ([]byte, error), k *orderKey, itemID string, slot int, ref string) ([]byte, error) {
	ct, err := get(ctx, ref)
	if errors.Is(err, domain.ErrNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: load sealed key: %v", ErrUnavailable, err)
	}
	pt, err := k.open(itemID, slot, ct)
	if err != nil {
		return nil, fmt.Errorf("open key of item %s slot %d: %w", itemID, slot, err)
	}
	return pt, nil
}

// open reverses seal; errSealBroken when authentication fails.
func (k *orderKey) open(itemID string, slot int, sealed []byte) ([]byte, error) {
	pt, err := k.aead.Open(nil, nil, sealed, sealAAD(k.orderID, itemID, slot))
	if err != nil {
		return nil, errSealBroken
	}
	return pt, nil
}

func sealAAD(orderID, itemID string, slot int) []byte {
	return fmt.Appendf(nil, "keyward/key/v1|%s|%s|%d", orderID, itemID, slot)
}

// blobRef is where a sealed key is stored: deterministic, so a re-run after
// a crash overwrites instead of leaving orphans.
func blobRef(orderID, itemID string, slot int) string {
	return "orders/" + orderID + "/" + itemID + "/" + strconv.Itoa(slot)
}

// orderBlobRefs is every ref fulfilment may have written for the order,
// derived from its items: a revoked order forgets its sealed keys, and a
// re-run of the shredding after a crash must still find them.
func orderBlobRefs(o *domain.Order) []string {
	var refs []string
	// Replacements of keys claimed were sealed at the slots after the
	// item's own, as many as each key_replaced entry says.
	replaced := map[string]int{}
	for _, e := range o.Timeline() {
		if e.Kind() == domain.EventKindKeyReplaced {
			n, _ := strconv.Atoi(e.Value("replacements"))
			replaced[e.Value("item_id")] += n
		}
	}
	for _, it := range o.Items() {
		for slot := range it.Quantity() + replaced[it.ID()] {
			refs = append(refs, blobRef(o.ID(), it.ID(), slot))
		}
	}
	return refs
}

// shred destroys the order's keys: the wrapped data key first (after that
// no copy of the ciphertext opens), then the ciphertext. It returns how
// many ciphertext refs it deleted; running it again is harmless.
// ErrUnavailable wraps a blob store failure.
func (e envelope) shred(ctx context.Context, o *domain.Order) (int, error) {
	if err := e.dataKeys.Delete(ctx, o.ID()); err != nil {
		return 0, fmt.Errorf("destroy data key: %w", err)
	}
	refs := orderBlobRefs(o)
	if err := e.blobs.Delete(ctx, refs...); err != nil {
		return 0, fmt.Errorf("%w: delete ciphertext: %v", ErrUnavailable, err)
	}
	return len(refs), nil
}

// opensStored reports whether the key vault opens the stored data keys: it
// tries a sample of up to five of them and returns nil as soon as one opens
// (or none is stored). One corrupt key does not fail the check; a vault that
// opens none of them (a lost keyring file, another transit key) does, with
// ports.ErrDataKeyInvalid; an unreachable vault returns ErrUnavailable.
func (e envelope) opensStored(ctx context.Context) error {
	stored, err := e.dataKeys.ListOlderThan(ctx, math.MaxInt32, "", 100)
	if err != nil {
		return fmt.Errorf("list data keys: %w", err)
	}
	var lastErr error
	for i := 0; i < len(stored); i += max(1, len(stored)/5) {
		k, err := e.unwrap(ctx, stored[i].OrderID, stored[i].Wrapped)
		k.Close()
		if err == nil {
			return nil
		}
		if !errors.Is(err, ports.ErrDataKeyInvalid) {
			return err
		}
		lastErr = err
	}
	return lastErr
}
