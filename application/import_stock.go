package application

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// MaxStockImport is the most keys one import takes.
const MaxStockImport = 10000

// ImportStock adds keys to a product's own stock: each is sealed at once
// under the product's stock data key and stored with its keyed hash; a key
// already known (in stock, sold or withdrawn) is a duplicate and skipped.
type ImportStock struct {
	tx      ports.Transactor
	catalog ports.CatalogRepository
	stock   ports.StockRepository
	audit   ports.AuditLog
	keys    stockKeys
	clock   ports.Clock
	ids     ports.IDs
}

// NewImportStock wires ImportStock; it panics when a dependency is nil.
func NewImportStock(tx ports.Transactor, catalog ports.CatalogRepository, stock ports.StockRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, audit ports.AuditLog, clock ports.Clock, ids ports.IDs) ImportStock {
	require("ImportStock", "tx", tx, "catalog", catalog, "stock", stock, "dataKeys", dataKeys, "vault", vault, "audit", audit, "clock", clock, "ids", ids)
	return ImportStock{tx: tx, catalog: catalog, stock: stock, audit: audit, keys: stockKeys{envelope{dataKeys: dataKeys, vault: vault}}, clock: clock, ids: ids}
}

// StockKeyInput is one plaintext key to stock: text or an image.
type StockKeyInput struct {
	ContentType string // "text/plain", "image/png", ...
	Data        []byte
}

// ImportStockCommand adds keys to the stock of SKU on behalf of Actor.
type ImportStockCommand struct {
	SKU   string
	Keys  []StockKeyInput
	Actor string
}

// ImportStockResult counts what an import did.
type ImportStockResult struct {
	Added      int
	Duplicates int
	IDs        []domain.StockKeyID // of the keys added, in the order given
}

// Handle seals and stores the new keys, zeroing the plaintext it was given.
// It returns domain.ErrNotFound for an unknown product, domain.ErrInvalidProduct
// for no keys, too many, an empty one or one without a content type, and
// ErrUnavailable wrapping a key vault outage.
func (h ImportStock) Handle(ctx context.Context, cmd ImportStockCommand) (ImportStockResult, error) {
	defer func() {
		for _, k := range cmd.Keys {
			clear(k.Data)
		}
	}()
	if err := validateImport(cmd); err != nil {
		return ImportStockResult{}, err
	}
	if _, err := h.catalog.Get(ctx, cmd.SKU); err != nil {
		return ImportStockResult{}, fmt.Errorf("product %s: %w", cmd.SKU, err)
	}
	hasher, err := h.keys.hasher(ctx)
	if err != nil {
		return ImportStockResult{}, fmt.Errorf("stock hash key: %w", err)
	}
	defer hasher.Close()
	sealer, err := h.keys.forSKU(ctx, cmd.SKU)
	if err != nil {
		return ImportStockResult{}, fmt.Errorf("stock data key of %s: %w", cmd.SKU, err)
	}
	defer sealer.Close()

	now := h.clock.Now()
	seen := make(map[string]bool, len(cmd.Keys))
	keys := make([]domain.StockKey, 0, len(cmd.Keys))
	for _, in := range cmd.Keys {
		data := normaliseKey(in.ContentType, in.Data)
		hash := keyedHash(hasher, in.ContentType, data)
		if seen[string(hash)] {
			continue // twice in this import
		}
		seen[string(hash)] = true
		id := domain.StockKeyID(h.ids.NewID())
		keys = append(keys, domain.StockKey{ID: id, SKU: cmd.SKU, Hash: hash, Sealed: sealStock(sealer, id, data),
			ContentType: in.ContentType, CreatedAt: now})
	}
	var res ImportStockResult
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		added, err := h.stock.Add(ctx, keys)
		if err != nil {
			return err
		}
		res = ImportStockResult{Added: len(added), Duplicates: len(cmd.Keys) - len(added), IDs: inOrder(keys, added)}
		_, err = h.audit.Append(ctx, cmd.Actor, AuditStockImported, "product:"+cmd.SKU, map[string]string{
			"added": strconv.Itoa(res.Added), "duplicates": strconv.Itoa(res.Duplicates),
		})
		return err
	})
	if err != nil {
		return ImportStockResult{}, fmt.Errorf("import stock of %s: %w", cmd.SKU, err)
	}
	return res, nil
}

func validateImport(cmd ImportStockCommand) error {
	switch {
	case len(cmd.Keys) == 0:
		return fmt.Errorf("%w: no keys to import", domain.ErrInvalidProduct)
	case len(cmd.Keys) > MaxStockImport:
		return fmt.Errorf("%w: %d keys in one import, at most %d", domain.ErrInvalidProduct, len(cmd.Keys), MaxStockImport)
	}
	for i, k := range cmd.Keys {
		if !strings.Contains(k.ContentType, "/") {
			return fmt.Errorf("%w: key %d has no content type", domain.ErrInvalidProduct, i+1)
		}
		if len(normaliseKey(k.ContentType, k.Data)) == 0 {
			return fmt.Errorf("%w: key %d is empty", domain.ErrInvalidProduct, i+1)
		}
	}
	return nil
}

// inOrder returns the ids of added in the order of keys.
func inOrder(keys []domain.StockKey, added []domain.StockKeyID) []domain.StockKeyID {
	in := make(map[domain.StockKeyID]bool, len(added))
	for _, id := range added {
		in[id] = true
	}
	ids := make([]domain.StockKeyID, 0, len(added))
	for _, k := range keys {
		if in[k.ID] {
			ids = append(ids, k.ID)
		}
	}
	return ids
}
