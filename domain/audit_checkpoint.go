package domain

import (
	"crypto/sha256"
	"errors"
	"time"
)

// ErrAuditCheckpointMismatch means an audit trail is shorter than, or
// differs from, a checkpoint taken of it, or that the checkpoint's MAC does
// not verify.
var ErrAuditCheckpointMismatch = errors.New("audit trail does not match the checkpoint")

// AuditCheckpoint is the head of an audit trail at a moment: its last seq
// and that record's hash (0 and GenesisAuditHash for an empty trail). Kept
// outside the database and MACed under the audit key, it shows a later
// truncation (the trail is shorter) or rewrite (the hash at Seq differs).
type AuditCheckpoint struct {
	Seq  int64
	Hash string
	At   time.Time
}

// AuditCheckpointMACInput is what a checkpoint's MAC covers: its seq,
// hash and time (UTC, to the nanosecond as written).
func AuditCheckpointMACInput(c AuditCheckpoint) []byte {
	h := sha256.New()
	writeString(h, auditCheckpointTag)
	writeUint(h, uint64(c.Seq))
	writeString(h, c.Hash)
	writeString(h, c.At.UTC().Format(time.RFC3339Nano))
	return h.Sum(nil)
}
