package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of the stock rehash.
const (
	AuditStockRehashed           = "stock.rehashed"
	AuditStockDuplicateWithdrawn = "stock.duplicate_withdrawn"
	AuditStockInvalidWithdrawn   = "stock.invalid_withdrawn"
)

// rehashBatch is how many keys one unit of work of the rehash takes;
// rehashAttempts how often a batch that lost a race is taken again.
const (
	rehashBatch    = 500
	rehashAttempts = 5
)

// RehashStock moves the available keys stocked before keys were known by
// their canonical form to the keyed hash of that form: it opens each
// under its product's stock data key, hashes its canonical form, and
// stores that hash, a batch per unit of work, so that a run stopped
// midway resumes where it stopped and a finished one does nothing. Of two
// keys that turn out to be one, the oldest available copy stays on sale;
// the others are withdrawn and held (never deleted, their ciphertext kept
// for an operator), logged and audited by id, never by their text or
// hash. A text key the canonical form refuses (a control character) is
// withdrawn and held the same way. Keys sold or withdrawn
// before have no ciphertext left to open: they keep the hash of the key as
// typed, which imports still look up.
type RehashStock struct {
	tx    ports.Transactor
	stock ports.StockRepository
	audit ports.AuditLog
	keys  stockKeys
	clock ports.Clock
	log   *slog.Logger
}

// NewRehashStock wires RehashStock; it panics when a dependency is nil.
func NewRehashStock(tx ports.Transactor, stock ports.StockRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, audit ports.AuditLog, clock ports.Clock, log *slog.Logger) RehashStock {
	require("RehashStock", "tx", tx, "stock", stock, "dataKeys", dataKeys, "vault", vault, "audit", audit, "clock", clock, "log", log)
	return RehashStock{tx: tx, stock: stock, audit: audit, keys: stockKeys{envelope{dataKeys: dataKeys, vault: vault}}, clock: clock, log: log}
}

// RefusedStockKey is a stock key withdrawn because its text is refused.
type RefusedStockKey struct {
	SKU    string
	ID     domain.StockKeyID
	Reason string // names code points, never the key
}

// RehashStockResult is what a rehash did.
type RehashStockResult struct {
	Rehashed   int
	Duplicates []domain.StockDuplicate // withdrawn; Key.Hash is not for display
	Refused    []RefusedStockKey       // withdrawn
}

// Handle rehashes every pending key on behalf of actor. It returns
// ErrUnavailable wrapping a key vault outage, and an error naming the
// stock key that does not open under its product's data key (withdraw it
// and run again): a key is never withdrawn for a failure to open it.
func (h RehashStock) Handle(ctx context.Context, actor string) (RehashStockResult, error) {
	r := rehashRun{RehashStock: h, actor: actor, skus: map[string]*orderKey{}}
	defer r.close()
	var res RehashStockResult
	for {
		var batch RehashStockResult
		var err error
		for attempt := 1; ; attempt++ {
			batch, err = r.batch(ctx)
			if !errors.Is(err, domain.ErrConflict) || attempt == rehashAttempts {
				break
			}
		}
		if err != nil {
			return res, fmt.Errorf("rehash stock: %w", err)
		}
		if batch.Rehashed+len(batch.Duplicates)+len(batch.Refused) == 0 {
			return res, nil
		}
		h.report(ctx, batch)
		res.Rehashed += batch.Rehashed
		res.Duplicates = append(res.Duplicates, batch.Duplicates...)
		res.Refused = append(res.Refused, batch.Refused...)
	}
}

// report warns of what a committed batch withdrew, by id only.
func (h RehashStock) report(ctx context.Context, b RehashStockResult) {
	for _, d := range b.Duplicates {
		h.log.WarnContext(ctx, "stock key withdrawn: the same key is in stock already", "sku", d.Key.SKU,
			"stock_key_id", string(d.Key.ID), "duplicate_of", string(d.Of.ID))
	}
	for _, k := range b.Refused {
		h.log.WarnContext(ctx, "stock key withdrawn: its text is refused", "sku", k.SKU, "stock_key_id", string(k.ID), "reason", k.Reason)
	}
}

// rehashRun holds the keys one run opens: the hash key and each product's
// stock data key, opened once.
type rehashRun struct {
	RehashStock
	actor  string
	hasher *orderKey
	skus   map[string]*orderKey
}

func (r *rehashRun) close() {
	if r.hasher != nil {
		r.hasher.Close()
	}
	for _, k := range r.skus {
		k.Close()
	}
}

// batch rehashes up to rehashBatch pending keys in one unit of work.
func (r *rehashRun) batch(ctx context.Context) (RehashStockResult, error) {
	var res RehashStockResult
	err := r.tx.Atomically(ctx, func(ctx context.Context) error {
		res = RehashStockResult{} // a retried unit of work starts afresh
		pending, err := r.stock.PendingRehash(ctx, rehashBatch)
		if err != nil || len(pending) == 0 {
			return err
		}
		now := r.clock.Now()
		hashed := make([]domain.StockKey, 0, len(pending))
		hashes := make([][]byte, 0, len(pending))
		var refusedKeys []domain.StockKey
		for _, k := range pending {
			hash, err := r.hashOf(ctx, k)
			var refused *refusedText
			if errors.As(err, &refused) {
				k.Sealed = nil
				refusedKeys = append(refusedKeys, k)
				res.Refused = append(res.Refused, RefusedStockKey{SKU: k.SKU, ID: k.ID, Reason: refused.Error()})
				continue
			}
			if err != nil {
				return err
			}
			k.Hash, k.Sealed = hash, nil
			hashed = append(hashed, k)
			hashes = append(hashes, hash)
		}
		holders, err := r.stock.HashHolders(ctx, hashes)
		if err != nil {
			return err
		}
		plan := domain.PlanStockRehash(hashed, holders)
		plan.Refused = refusedKeys
		if err := r.stock.ApplyRehash(ctx, plan, now); err != nil {
			return err
		}
		res.Rehashed, res.Duplicates = len(plan.Rehashed), plan.Duplicates
		return r.audited(ctx, res)
	})
	return res, err
}

// refusedText is a stored text key the canonical form refuses.
type refusedText struct{ err error }

func (e *refusedText) Error() string { return e.err.Error() }

// hashOf opens k and returns the keyed hash of its canonical form, or a
// *refusedText.
func (r *rehashRun) hashOf(ctx context.Context, k domain.StockKey) ([]byte, error) {
	if r.hasher == nil {
		// Opened, never created: the imports that stocked these keys made
		// it, and one made in a unit of work that rolls back would be lost.
		h, err := r.keys.open(ctx, dedupeKeyID)
		if err != nil {
			return nil, fmt.Errorf("stock hash key: %w", err)
		}
		r.hasher = h
	}
	sealer, ok := r.skus[k.SKU]
	if !ok {
		var err error
		if sealer, err = r.keys.openSKU(ctx, k.SKU); err != nil {
			return nil, fmt.Errorf("stock data key of %s: %w", k.SKU, err)
		}
		r.skus[k.SKU] = sealer
	}
	pt, err := openStock(sealer, k.ID, k.Sealed)
	if err != nil {
		return nil, fmt.Errorf("open stock key %s of %s: %w", k.ID, k.SKU, err)
	}
	defer clear(pt)
	form, err := dedupeForm(k.ContentType, pt)
	if err != nil {
		return nil, &refusedText{err}
	}
	defer clear(form)
	return canonicalHash(r.hasher, k.ContentType, form), nil
}

// audited records what the batch did, by id: one record per key withdrawn
// and one for the batch.
func (r *rehashRun) audited(ctx context.Context, res RehashStockResult) error {
	for _, d := range res.Duplicates {
		if _, err := r.audit.Append(ctx, r.actor, AuditStockDuplicateWithdrawn, "product:"+d.Key.SKU, map[string]string{
			"stock_key_id": string(d.Key.ID), "duplicate_of": string(d.Of.ID), "duplicate_of_sku": d.Of.SKU,
		}); err != nil {
			return err
		}
	}
	for _, k := range res.Refused {
		if _, err := r.audit.Append(ctx, r.actor, AuditStockInvalidWithdrawn, "product:"+k.SKU, map[string]string{
			"stock_key_id": string(k.ID), "reason": k.Reason,
		}); err != nil {
			return err
		}
	}
	_, err := r.audit.Append(ctx, r.actor, AuditStockRehashed, "stock", map[string]string{
		"rehashed": strconv.Itoa(res.Rehashed), "duplicates": strconv.Itoa(len(res.Duplicates)), "refused": strconv.Itoa(len(res.Refused)),
	})
	return err
}
