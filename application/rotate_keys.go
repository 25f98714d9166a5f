package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/ports"
)

// RotateKeys rotates the vault key and rewraps every stored data key under
// the new version, in batches. It is resumable (a second run rewraps what
// the first missed) and safe while serving: each key is replaced only if it
// did not change meanwhile, and new orders already use the new version.
type RotateKeys struct {
	tx        ports.Transactor
	vault     ports.KeyVault
	dataKeys  ports.DataKeyRepository
	audit     ports.AuditLog
	batchSize int
	log       *slog.Logger
}

// NewRotateKeys wires RotateKeys; it panics when a dependency is nil.
func NewRotateKeys(tx ports.Transactor, vault ports.KeyVault, dataKeys ports.DataKeyRepository, audit ports.AuditLog, batchSize int, log *slog.Logger) RotateKeys {
	require("RotateKeys", "tx", tx, "vault", vault, "dataKeys", dataKeys, "audit", audit, "log", log)
	return RotateKeys{tx: tx, vault: vault, dataKeys: dataKeys, audit: audit, batchSize: batchSize, log: log}
}

// RotationResult reports a rotation.
type RotationResult struct {
	Version   int  // the key version every data key is now wrapped under
	Rewrapped int  // data keys rewrapped by this run
	Floor     bool // the vault now refuses versions below Version-1
	// Unreadable counts data keys the vault would not rewrap (they no
	// longer open); they are left as they are and keep the floor down.
	Unreadable int
}

// Handle returns ErrUnavailable when the vault is down; what was rewrapped
// before stays rewrapped.
func (h RotateKeys) Handle(ctx context.Context, actor string) (RotationResult, error) {
	version, err := h.vault.Rotate(ctx)
	if err != nil {
		return RotationResult{}, fmt.Errorf("%w: rotate: %v", ErrUnavailable, err)
	}
	res, err := h.Rewrap(ctx, version)
	h.log.InfoContext(ctx, "key rotation", "version", res.Version, "rewrapped", res.Rewrapped, "floor_raised", res.Floor, "err", err)
	details := map[string]string{"key_version": fmt.Sprint(res.Version), "rewrapped": fmt.Sprint(res.Rewrapped),
		"unreadable": fmt.Sprint(res.Unreadable), "min_version_raised": fmt.Sprint(res.Floor)}
	if err != nil {
		details["error"] = err.Error()
	}
	if _, aerr := h.audit.Append(ctx, actor, AuditKeysRotated, "transit-key", details); aerr != nil && err == nil {
		err = fmt.Errorf("audit rotation: %w", aerr)
	}
	return res, err
}

// Rewrap rewraps every data key below version. When none is left it raises
// the vault's minimum decryption version to version-1, so keys wrapped two
// rotations ago (old backups included) stop opening. It stops one short of
// version on purpose: a data key made just before the rotation may be
// stored after the scan, and it must stay readable until the next run
// rewraps it.
func (h RotateKeys) Rewrap(ctx context.Context, version int) (RotationResult, error) {
	size := h.batchSize
	if size <= 0 {
		size = 100
	}
	res := RotationResult{Version: version}
	after := ""
	for {
		batch, err := h.dataKeys.ListOlderThan(ctx, version, after, size)
		if err != nil {
			return res, fmt.Errorf("list data keys: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		reqs := make([]ports.RewrapRequest, len(batch))
		for i, k := range batch {
			reqs[i] = ports.RewrapRequest{OrderID: k.OrderID, Wrapped: k.Wrapped}
		}
		rewrapped, err := h.rewrapBatch(ctx, reqs, &res)
		if err != nil {
			return res, err
		}
		// A batch's keys and its audit record commit together.
		n := 0
		err = h.tx.Atomically(ctx, func(ctx context.Context) error {
			n = 0
			for i, k := range batch {
				if rewrapped[i] == nil {
					continue
				}
				ok, err := h.dataKeys.Replace(ctx, k.OrderID, k.Wrapped, *rewrapped[i])
				if err != nil {
					return fmt.Errorf("store rewrapped key of %s: %w", k.OrderID, err)
				}
				if ok {
					n++
				}
			}
			if n == 0 {
				return nil
			}
			_, err := h.audit.Append(ctx, ActorSystem, AuditKeysRewrapped, "transit-key", map[string]string{
				"key_version": fmt.Sprint(version), "rewrapped": fmt.Sprint(n), "from_order": batch[0].OrderID, "to_order": batch[len(batch)-1].OrderID,
			})
			return err
		})
		if err != nil {
			return res, err
		}
		res.Rewrapped += n
		after = batch[len(batch)-1].OrderID
	}
	if res.Unreadable > 0 {
		h.log.ErrorContext(ctx, "data keys the vault cannot open were left as they are", "count", res.Unreadable)
	}
	left, err := h.dataKeys.ListOlderThan(ctx, version, "", 1)
	if err != nil {
		return res, fmt.Errorf("list data keys: %w", err)
	}
	if floor, ok := h.vault.(ports.KeyVersionFloor); ok && len(left) == 0 && version > 1 {
		if err := floor.SetMinDecryptionVersion(ctx, version-1); err != nil {
			return res, fmt.Errorf("%w: raise minimum version: %v", ErrUnavailable, err)
		}
		res.Floor = true
	}
	return res, nil
}

// rewrapBatch rewraps in one call; when the vault refuses the batch because
// one key does not open, it rewraps key by key so that one bad key cannot
// block every rotation. A nil result marks a key left as it was.
func (h RotateKeys) rewrapBatch(ctx context.Context, reqs []ports.RewrapRequest, res *RotationResult) ([]*ports.WrappedKey, error) {
	out := make([]*ports.WrappedKey, len(reqs))
	all, err := h.vault.Rewrap(ctx, reqs)
	if err == nil {
		for i := range all {
			out[i] = &all[i]
		}
		return out, nil
	}
	if !errors.Is(err, ports.ErrDataKeyInvalid) {
		return nil, fmt.Errorf("%w: rewrap: %v", ErrUnavailable, err)
	}
	for i, r := range reqs {
		one, err := h.vault.Rewrap(ctx, []ports.RewrapRequest{r})
		switch {
		case errors.Is(err, ports.ErrDataKeyInvalid):
			res.Unreadable++
			h.log.ErrorContext(ctx, "data key does not open; not rewrapped", "order_id", r.OrderID, "err", err)
		case err != nil:
			return nil, fmt.Errorf("%w: rewrap: %v", ErrUnavailable, err)
		default:
			out[i] = &one[0]
		}
	}
	return out, nil
}
