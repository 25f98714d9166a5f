package application

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// MaxStockImport is the most keys one import takes.
const MaxStockImport = 10000

// ImportStock adds keys to a product's own stock: each is sealed at once,
// as given, under the product's stock data key and stored with the keyed
// hash of its canonical form; a key already known under any spelling (in
// stock, sold or withdrawn) is a duplicate and skipped.
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
	// Progress, when set, is told how many keys have been sealed, so
	// that a long import shows it is moving; it must not block.
	Progress func(sealed int)
}

// ImportStockResult counts what an import did.
type ImportStockResult struct {
	Added      int
	Duplicates int
	IDs        []domain.StockKeyID // of the keys added, in the order given
}

// Handle seals and stores the new keys, zeroing the plaintext it was given.
// It returns domain.ErrNotFound for an unknown product, domain.ErrInvalidProduct
// for no keys, too many, or keys without a content type, empty or whose
// text domain.CanonicalKeyText refuses (naming each such key by its
// position, never by its text), and ErrUnavailable wrapping a key vault
// outage.
func (h ImportStock) Handle(ctx context.Context, cmd ImportStockCommand) (ImportStockResult, error) {
	defer func() {
		for _, k := range cmd.Keys {
			clear(k.Data)
		}
	}()
	forms, err := validateImport(cmd)
	defer func() {
		for _, f := range forms {
			clear(f)
		}
	}()
	if err != nil {
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
	for i, in := range cmd.Keys {
		data := normaliseKey(in.ContentType, in.Data)
		hash := canonicalHash(hasher, in.ContentType, forms[i])
		if seen[string(hash)] {
			continue // twice in this import
		}
		seen[string(hash)] = true
		id := domain.StockKeyID(h.ids.NewID())
		keys = append(keys, domain.StockKey{ID: id, SKU: cmd.SKU, Hash: hash, LegacyHash: keyedHash(hasher, in.ContentType, data),
			Sealed: sealStock(sealer, id, data), ContentType: in.ContentType, CreatedAt: now})
		if cmd.Progress != nil {
			cmd.Progress(i + 1)
		}
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

// maxReportedKeys bounds how many refused keys an error lists.
const maxReportedKeys = 10

// validateImport returns each key's dedupeForm, or an error that names
// every refused key by its position (the first maxReportedKeys of them).
func validateImport(cmd ImportStockCommand) ([][]byte, error) {
	switch {
	case len(cmd.Keys) == 0:
		return nil, fmt.Errorf("%w: no keys to import", domain.ErrInvalidProduct)
	case len(cmd.Keys) > MaxStockImport:
		return nil, fmt.Errorf("%w: %d keys in one import, at most %d", domain.ErrInvalidProduct, len(cmd.Keys), MaxStockImport)
	}
	forms := make([][]byte, len(cmd.Keys))
	var refused []string
	for i, k := range cmd.Keys {
		var err error
		switch data := normaliseKey(k.ContentType, k.Data); {
		case !strings.Contains(k.ContentType, "/"):
			err = errors.New("no content type")
		case len(data) == 0:
			err = errors.New("empty")
		default:
			forms[i], err = dedupeForm(k.ContentType, data)
		}
		if err != nil {
			refused = append(refused, fmt.Sprintf("key %d: %v", i+1, err))
		}
	}
	if n := len(refused); n > 0 {
		if n > maxReportedKeys {
			refused = append(refused[:maxReportedKeys], fmt.Sprintf("and %d more", n-maxReportedKeys))
		}
		return forms, fmt.Errorf("%w: %d of %d keys refused: %s", domain.ErrInvalidProduct, n, len(cmd.Keys), strings.Join(refused, "; "))
	}
	return forms, nil
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
