package application

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of the own stock.
const (
	AuditStockImported  = "stock.imported"
	AuditStockAssigned  = "stock.assigned"
	AuditStockWithdrawn = "stock.withdrawn"
	AuditSourcingSet    = "product.sourcing_set"
)

// Data key contexts of the own stock. Stock data keys are stored with the
// order data keys (so key rotation rewraps them too) under ids no order id
// can take: order ids are UUIDs, these hold a slash.
const (
	stockKeyPrefix = "stock/"         // + sku: seals that product's stock keys
	dedupeKeyID    = "stock-hmac/v1/" // the HMAC key of the keyed hashes
)

// stockKeys opens and seals stock keys: each product's keys are sealed
// under its own data key, bound to the key's id, and known by an HMAC
// under a vault-held key, never by a plain hash.
type stockKeys struct{ envelope }

// forSKU returns the stock data key of sku, created on first use.
func (s stockKeys) forSKU(ctx context.Context, sku string) (*orderKey, error) {
	return s.forOrder(ctx, stockKeyPrefix+sku)
}

// openSKU returns the existing stock data key of sku; domain.ErrNotFound
// when the product never had stock.
func (s stockKeys) openSKU(ctx context.Context, sku string) (*orderKey, error) {
	return s.open(ctx, stockKeyPrefix+sku)
}

// hasher returns the keyed hash of keys: HMAC-SHA256 under a data key the
// vault wraps, the same for every product (a key is the same secret
// whatever it is stocked under).
func (s stockKeys) hasher(ctx context.Context) (*orderKey, error) {
	return s.forOrder(ctx, dedupeKeyID)
}

// canonicalTextLabel stands for the content type in the hash of a text
// key's canonical form: every text/* spelling of one key hashes alike.
const canonicalTextLabel = "text/canonical;v2"

// dedupeForm returns the form a key is known by: the canonical form of a
// text key (domain.CanonicalKeyText, refusing what it refuses), the bytes
// of any other as they are. data is the key as stored (normaliseKey).
func dedupeForm(contentType string, data []byte) ([]byte, error) {
	if !isText(contentType) {
		return data, nil
	}
	c, err := domain.CanonicalKeyText(string(data))
	if err != nil {
		return nil, err
	}
	return []byte(c), nil
}

// canonicalHash is the keyed hash a key is stocked under: of its
// dedupeForm, labelled alike for every text type.
func canonicalHash(k *orderKey, contentType string, form []byte) []byte {
	if isText(contentType) {
		return keyedHash(k, canonicalTextLabel, form)
	}
	return keyedHash(k, contentType, form)
}

// keyedHash is also the old hash form (of the key as stored, labelled with
// its content type), which keys sold before the canonical form are known by.
func keyedHash(k *orderKey, contentType string, data []byte) []byte {
	m := hmac.New(sha256.New, k.raw)
	m.Write([]byte(contentType))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}

// sealStock and openStock bind a stock key's ciphertext to its id (slot 0
// of "item" id under the "order" stock/<sku>).
func sealStock(k *orderKey, id domain.StockKeyID, plaintext []byte) []byte {
	return k.seal(string(id), 0, plaintext)
}

func openStock(k *orderKey, id domain.StockKeyID, sealed []byte) ([]byte, error) {
	return k.open(string(id), 0, sealed)
}

// sourcingOf returns the sourcing mode configured for sku, or the default
// of its source kind.
func sourcingOf(ctx context.Context, stock ports.StockRepository, sku string, kind domain.SourceKind) (domain.Sourcing, error) {
	m, err := stock.Sourcing(ctx, sku)
	if errors.Is(err, domain.ErrNotFound) {
		return domain.DefaultSourcing(kind), nil
	}
	if err != nil {
		return domain.Sourcing{}, fmt.Errorf("sourcing of %s: %w", sku, err)
	}
	return m, nil
}

func isText(contentType string) bool { return strings.HasPrefix(contentType, "text/") }

// normaliseKey trims a text key; other content is taken as it is.
func normaliseKey(contentType string, data []byte) []byte {
	if isText(contentType) {
		return []byte(strings.TrimSpace(string(data)))
	}
	return data
}
