package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/keyward/keyward/ports"
)

// AuditKeysMigrated records one batch of data keys moved to another key
// vault: how many, to and from which kind, never a key.
const AuditKeysMigrated = "keys.migrated"

// ErrSameKeyVault is returned by MigrateKeys when the target vault is of
// the kind the keys are already wrapped by.
var ErrSameKeyVault = errors.New("the target key vault is of the same kind as the source: nothing to migrate")

// MigrateKeys moves every stored data key (orders, own stock, the stock
// hash key, the audit MAC key) from one key vault to another: it unwraps
// each with the source and wraps the same bytes with the target, bound to
// the same id, so every sealed key and every audit MAC stays valid.
//
// It first checks that every stored key opens, under the source or (moved
// by an earlier run) the target, and refuses to change anything when one
// opens under neither. Then it moves the keys in batches; each batch's keys
// and its audit record commit together, and a key the target already
// wraps is left alone, so a run stopped midway resumes where it stopped.
// Each key is replaced only while it still holds the ciphertext the run
// read (compare-and-set), so a key revoked or rewrapped meanwhile is never
// overwritten. The shop may serve meanwhile on a key vault that makes new
// keys with the target and opens each stored key with the vault that
// wrapped it; a shop still making keys with the source leaves keys behind,
// which Left counts and a second run moves.
type MigrateKeys struct {
	tx        ports.Transactor
	from      ports.DataKeyImporter
	to        ports.DataKeyImporter
	dataKeys  ports.DataKeyRepository
	audit     ports.AuditLog
	batchSize int
	log       *slog.Logger
}

// NewMigrateKeys wires MigrateKeys; batchSize <= 0 takes 100. It panics
// when a dependency is nil.
func NewMigrateKeys(tx ports.Transactor, from ports.DataKeyImporter, to ports.DataKeyImporter, dataKeys ports.DataKeyRepository, audit ports.AuditLog, batchSize int, log *slog.Logger) MigrateKeys {
	require("MigrateKeys", "tx", tx, "from", from, "to", to, "dataKeys", dataKeys, "audit", audit, "log", log)
	if batchSize <= 0 {
		batchSize = 100
	}
	return MigrateKeys{tx: tx, from: from, to: to, dataKeys: dataKeys, audit: audit, batchSize: batchSize, log: log}
}

// MigrateKeysResult reports a migration.
type MigrateKeysResult struct {
	To       string // the target's kind
	Total    int    // data keys stored
	Migrated int    // moved by this run
	// AlreadyMigrated were found wrapped by the target (an earlier run).
	AlreadyMigrated int
	// Changed were replaced or deleted (an order revoked) while this run
	// moved them; Left says whether anything remains.
	Changed int
	// Left are still wrapped by the source when the run ends: made by it
	// after the scan, or rewrapped by it while they moved. A further run
	// moves them.
	Left int
}

// Handle migrates the stored data keys, auditing each batch as actor's,
// and calls progress (when not nil) after each batch with the keys done
// and the total. It returns ErrSameKeyVault when the target is the
// source's kind; an error wrapping ports.ErrDataKeyInvalid, naming the
// key's id, when a stored key opens under neither vault (nothing is
// changed then); ErrUnavailable wrapping a vault outage. Batches committed
// before an error stay migrated, and the result counts them.
func (h MigrateKeys) Handle(ctx context.Context, actor string, progress func(done, total int)) (MigrateKeysResult, error) {
	res := MigrateKeysResult{To: h.to.Kind()}
	if h.from.Kind() == h.to.Kind() {
		return res, ErrSameKeyVault
	}
	total, err := h.check(ctx)
	if err != nil {
		return res, err
	}
	res.Total = total
	err = h.eachBatch(ctx, func(batch []ports.StoredDataKey) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped before the next batch: %w", err)
		}
		if err := h.moveBatch(ctx, actor, batch, &res); err != nil {
			return err
		}
		if progress != nil {
			done := res.Migrated + res.AlreadyMigrated + res.Changed
			progress(done, max(done, res.Total))
		}
		return nil
	})
	if err == nil {
		res.Left, err = h.left(ctx)
	}
	h.log.InfoContext(ctx, "data keys migrated", "to", res.To, "total", res.Total, "migrated", res.Migrated,
		"already_migrated", res.AlreadyMigrated, "changed", res.Changed, "left", res.Left, "err", err)
	return res, err
}

// left counts the keys the source still wraps.
func (h MigrateKeys) left(ctx context.Context) (int, error) {
	n, err := h.dataKeys.CountWrappedBy(ctx, h.from.Kind())
	if err != nil {
		return 0, fmt.Errorf("count data keys left on the %s key vault: %w", h.from.Kind(), err)
	}
	return n, nil
}

// check opens every stored key with the vault that wraps it and returns
// how many there are.
func (h MigrateKeys) check(ctx context.Context) (int, error) {
	n := 0
	err := h.eachBatch(ctx, func(batch []ports.StoredDataKey) error {
		for _, k := range batch {
			v := h.from
			if h.moved(k.Wrapped) {
				v = h.to
			}
			raw, err := v.UnwrapDataKey(ctx, k.OrderID, k.Wrapped)
			clear(raw)
			if err != nil {
				return h.unwrapError(k.OrderID, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// moveBatch wraps the batch's keys with the target, then stores them and
// the batch's audit record in one unit of work.
func (h MigrateKeys) moveBatch(ctx context.Context, actor string, batch []ports.StoredDataKey, res *MigrateKeysResult) error {
	type move struct {
		id       string
		old, new ports.WrappedKey
	}
	var moves []move
	for _, k := range batch {
		if h.moved(k.Wrapped) {
			res.AlreadyMigrated++
			continue
		}
		wk, err := h.rewrap(ctx, k)
		if err != nil {
			return err
		}
		moves = append(moves, move{id: k.OrderID, old: k.Wrapped, new: wk})
	}
	if len(moves) == 0 {
		return nil
	}
	migrated := 0
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		migrated = 0
		for _, m := range moves {
			ok, err := h.dataKeys.Replace(ctx, m.id, m.old, m.new)
			if err != nil {
				return fmt.Errorf("store migrated data key %s: %w", m.id, err)
			}
			if ok {
				migrated++
			}
		}
		if migrated == 0 {
			return nil
		}
		_, err := h.audit.Append(ctx, actor, AuditKeysMigrated, "data-keys", map[string]string{
			"to": h.to.Kind(), "from": h.from.Kind(), "migrated": strconv.Itoa(migrated),
			"first_key": moves[0].id, "last_key": moves[len(moves)-1].id,
		})
		return err
	})
	if err != nil {
		return err
	}
	res.Migrated += migrated
	res.Changed += len(moves) - migrated
	return nil
}

// rewrap unwraps k with the source and wraps the same bytes with the
// target, zeroing them in between.
func (h MigrateKeys) rewrap(ctx context.Context, k ports.StoredDataKey) (ports.WrappedKey, error) {
	raw, err := h.from.UnwrapDataKey(ctx, k.OrderID, k.Wrapped)
	if err != nil {
		clear(raw)
		return ports.WrappedKey{}, h.unwrapError(k.OrderID, err)
	}
	wk, err := h.to.ImportDataKey(ctx, k.OrderID, raw)
	clear(raw)
	if errors.Is(err, ports.ErrVaultUnavailable) {
		return ports.WrappedKey{}, fmt.Errorf("%w: wrap data key %s with the %s key vault: %v", ErrUnavailable, k.OrderID, h.to.Kind(), err)
	}
	if err != nil {
		return ports.WrappedKey{}, fmt.Errorf("wrap data key %s with the %s key vault: %w", k.OrderID, h.to.Kind(), err)
	}
	return wk, nil
}

func (h MigrateKeys) unwrapError(id string, err error) error {
	if errors.Is(err, ports.ErrDataKeyInvalid) {
		return fmt.Errorf("data key %s opens under neither the %s nor the %s key vault: is this the right keyring file or transit key? %w",
			id, h.from.Kind(), h.to.Kind(), err)
	}
	if errors.Is(err, ports.ErrVaultUnavailable) {
		return fmt.Errorf("%w: unwrap data key %s: %v", ErrUnavailable, id, err)
	}
	return fmt.Errorf("unwrap data key %s: %w", id, err)
}

// moved reports whether the target wraps k.
func (h MigrateKeys) moved(k ports.WrappedKey) bool {
	return strings.HasPrefix(k.Ciphertext, h.to.Kind()+":")
}

// eachBatch calls fn with every stored data key, a batch at a time, in id
// order.
func (h MigrateKeys) eachBatch(ctx context.Context, fn func([]ports.StoredDataKey) error) error {
	after := ""
	for {
		batch, err := h.dataKeys.ListOlderThan(ctx, math.MaxInt32, after, h.batchSize)
		if err != nil {
			return fmt.Errorf("list data keys: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		if err := fn(batch); err != nil {
			return err
		}
		after = batch[len(batch)-1].OrderID
	}
}
