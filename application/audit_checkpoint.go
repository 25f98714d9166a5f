package application

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// LatestCheckpointRef is the name, below a checkpoint store's prefix, of
// the newest checkpoint SaveCheckpoint wrote; each is also kept under a
// name of its own (checkpointRef).
const LatestCheckpointRef = "latest.json"

// AuditCheckpoints takes signed checkpoints of the audit trail's head and
// checks the trail against them: kept outside the database, a checkpoint
// shows a trail cut short or rewritten since, which the chain alone
// cannot.
type AuditCheckpoints struct {
	audit ports.AuditLog
	mac   ports.AuditMAC
	clock ports.Clock
	log   *slog.Logger
}

// NewAuditCheckpoints wires AuditCheckpoints; it panics when a dependency
// is nil.
func NewAuditCheckpoints(audit ports.AuditLog, mac ports.AuditMAC, clock ports.Clock, log *slog.Logger) AuditCheckpoints {
	require("AuditCheckpoints", "audit", audit, "mac", mac, "clock", clock, "log", log)
	return AuditCheckpoints{audit: audit, mac: mac, clock: clock, log: log}
}

// SignedCheckpoint is a checkpoint and its MAC under the audit key.
type SignedCheckpoint struct {
	domain.AuditCheckpoint
	MAC string
}

// checkpointFile is a checkpoint as written: JSON an operator can read.
type checkpointFile struct {
	Version int       `json:"version"`
	Seq     int64     `json:"seq"`
	Hash    string    `json:"hash"`
	At      time.Time `json:"at"`
	MAC     string    `json:"mac"`
}

// MarshalJSON writes the checkpoint file format.
func (c SignedCheckpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkpointFile{Version: 1, Seq: c.Seq, Hash: c.Hash, At: c.At, MAC: c.MAC})
}

// ParseCheckpoint reads a checkpoint file; it returns an error for
// anything but a version 1 checkpoint with every field set.
func ParseCheckpoint(b []byte) (SignedCheckpoint, error) {
	var f checkpointFile
	if err := json.Unmarshal(b, &f); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("checkpoint is not JSON: %w", err)
	}
	if f.Version != 1 || f.Seq < 0 || f.Hash == "" || f.At.IsZero() || f.MAC == "" {
		return SignedCheckpoint{}, errors.New("checkpoint needs version 1, seq, hash, at and mac")
	}
	return SignedCheckpoint{AuditCheckpoint: domain.AuditCheckpoint{Seq: f.Seq, Hash: f.Hash, At: f.At}, MAC: f.MAC}, nil
}

// Take verifies the whole trail and signs its head; it refuses (returning
// the verification's error) to vouch for a trail that does not verify.
func (h AuditCheckpoints) Take(ctx context.Context) (SignedCheckpoint, error) {
	n, err := chainVerified(h.audit.Verify(ctx))
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("checkpoint: the trail does not verify: %w", err)
	}
	cp := domain.AuditCheckpoint{Seq: 0, Hash: domain.GenesisAuditHash, At: h.clock.Now().UTC()}
	if n > 0 {
		head, err := h.audit.List(ctx, int64(n-1), 1)
		if err != nil {
			return SignedCheckpoint{}, fmt.Errorf("checkpoint: read the head: %w", err)
		}
		if len(head) != 1 {
			return SignedCheckpoint{}, fmt.Errorf("checkpoint: no record at seq %d", n)
		}
		cp.Seq, cp.Hash = head[0].Seq, head[0].Hash
	}
	mac, err := h.mac.Sign(ctx, domain.AuditCheckpointMACInput(cp))
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("checkpoint: sign: %w", err)
	}
	h.log.InfoContext(ctx, "audit checkpoint", "seq", cp.Seq, "hash", cp.Hash, "at", cp.At, "mac", mac)
	return SignedCheckpoint{AuditCheckpoint: cp, MAC: mac}, nil
}

// Check verifies the trail and that it extends the checkpoint: the
// checkpoint's MAC verifies under the audit key, the trail reaches its
// seq, and the record there has its hash. It returns how many records
// verified; an error wrapping domain.ErrAuditCheckpointMismatch when the
// checkpoint does not hold, or the trail's own verification error.
func (h AuditCheckpoints) Check(ctx context.Context, c SignedCheckpoint) (int, error) {
	ok, err := h.mac.Verify(ctx, domain.AuditCheckpointMACInput(c.AuditCheckpoint), c.MAC)
	if err != nil {
		return 0, fmt.Errorf("check checkpoint MAC: %w", err)
	}
	if !ok {
		return 0, fmt.Errorf("%w: the checkpoint's MAC does not verify under the audit key (edited, or made with another key)", domain.ErrAuditCheckpointMismatch)
	}
	n, err := chainVerified(h.audit.Verify(ctx))
	if err != nil {
		return n, err
	}
	if int64(n) < c.Seq {
		return n, fmt.Errorf("%w: the trail ends at seq %d but the checkpoint of %s names seq %d: records were removed",
			domain.ErrAuditCheckpointMismatch, n, c.At.Format(time.RFC3339), c.Seq)
	}
	if c.Seq == 0 {
		return n, nil
	}
	at, err := h.audit.List(ctx, c.Seq-1, 1)
	if err != nil {
		return n, fmt.Errorf("read audit record %d: %w", c.Seq, err)
	}
	if len(at) != 1 || at[0].Hash != c.Hash {
		return n, fmt.Errorf("%w: the record at seq %d is not the one the checkpoint of %s names: the trail was rewritten",
			domain.ErrAuditCheckpointMismatch, c.Seq, c.At.Format(time.RFC3339))
	}
	return n, nil
}

// CheckpointStore keeps checkpoints: a blob store that lists its refs.
type CheckpointStore interface {
	ports.BlobStore
	// List returns the refs stored that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

// Save takes a checkpoint and stores it in store below prefix under its
// own name, and as LatestCheckpointRef when it is newer (a higher seq)
// than the one there: several workers save, and a slow one must not put
// an older head back.
func (h AuditCheckpoints) Save(ctx context.Context, store CheckpointStore, prefix string) (SignedCheckpoint, error) {
	c, err := h.Take(ctx)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	if err := store.Put(ctx, checkpointRef(prefix, c), b); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%w: store checkpoint %s: %v", ErrUnavailable, checkpointRef(prefix, c), err)
	}
	if old, err := readCheckpoint(ctx, store, prefix+LatestCheckpointRef); err == nil && old.Seq >= c.Seq {
		return c, nil
	}
	if err := store.Put(ctx, prefix+LatestCheckpointRef, b); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("%w: store checkpoint %s: %v", ErrUnavailable, prefix+LatestCheckpointRef, err)
	}
	return c, nil
}

// Latest returns the checkpoint with the highest seq among those Save
// stored below prefix (each under its own name, and LatestCheckpointRef),
// so that an older checkpoint put back as LatestCheckpointRef does not
// hide a newer one. A file whose content does not match its name (an old
// checkpoint renamed) is passed over. It returns domain.ErrNotFound when
// there is none, or the store's error.
func (h AuditCheckpoints) Latest(ctx context.Context, store CheckpointStore, prefix string) (SignedCheckpoint, error) {
	refs, err := store.List(ctx, prefix+checkpointRefStem)
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("list checkpoints below %q: %w", prefix, err)
	}
	best, found := SignedCheckpoint{}, false
	if c, err := readCheckpoint(ctx, store, prefix+LatestCheckpointRef); err == nil {
		best, found = c, true
	} else if !errors.Is(err, domain.ErrNotFound) && len(refs) == 0 {
		return SignedCheckpoint{}, err
	}
	// Names sort by seq then time: the newest that holds what its name
	// says is the one.
	for _, ref := range slices.Backward(refs) {
		c, err := readCheckpoint(ctx, store, ref)
		if err != nil || checkpointRef(prefix, c) != ref {
			continue
		}
		if !found || c.Seq > best.Seq {
			best, found = c, true
		}
		break
	}
	if !found {
		return SignedCheckpoint{}, fmt.Errorf("read checkpoint %s: %w", prefix+LatestCheckpointRef, domain.ErrNotFound)
	}
	return best, nil
}

func readCheckpoint(ctx context.Context, store ports.BlobStore, ref string) (SignedCheckpoint, error) {
	b, err := store.Get(ctx, ref)
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("read checkpoint %s: %w", ref, err)
	}
	c, err := ParseCheckpoint(b)
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("read checkpoint %s: %w", ref, err)
	}
	return c, nil
}

// checkpointRefStem starts the name of every checkpoint (checkpointRef).
const checkpointRefStem = "audit-checkpoint-"

// checkpointRef names a checkpoint so that names sort by seq, then time.
func checkpointRef(prefix string, c SignedCheckpoint) string {
	return fmt.Sprintf("%s%s%020d-%s.json", prefix, checkpointRefStem, c.Seq, c.At.UTC().Format("20060102T150405.000000000Z"))
}

// chainVerified passes on Verify's result but for quarantined staged
// records, which leave the chain itself whole: a checkpoint of it still
// holds, and the quarantine is reported by verify on its own.
func chainVerified(n int, err error) (int, error) {
	if errors.Is(err, domain.ErrAuditQuarantined) {
		return n, nil
	}
	return n, err
}
