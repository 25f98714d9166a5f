package ports

import (
	"context"

	"github.com/keyward/keyward/domain"
)

// AuditLog is the append-only, hash-chained record of who did what
// (DESIGN §6). Records are numbered 1, 2, 3… without gaps and each carries
// the hash of the one before, so concurrent appends never fork the chain,
// and a MAC under the log's AuditMAC, so a record written around the log
// never verifies.
type AuditLog interface {
	// Append records an action at the log's clock time, chained after the
	// last record, and returns the stored record. Inside a unit of work
	// (Transactor.Atomically) a log may instead stage the record, so that
	// concurrent units do not wait for each other on the chain's head: it
	// commits or rolls back with the work and is chained right after the
	// commit, and the returned record has no Seq or hashes yet. List and
	// Verify see every record committed before they are called. It
	// returns an error wrapping domain.ErrInvalidAuditRecord for an entry
	// NewAuditRecord refuses; nothing is stored then.
	Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error)
	// List returns up to limit records with a seq above afterSeq, in seq
	// order; an export pages with afterSeq = the last seq it got until a
	// page comes back empty. It returns an error when limit is not positive.
	List(ctx context.Context, afterSeq int64, limit int) ([]domain.AuditRecord, error)
	// Verify walks the whole log from seq 1, checking the hash chain and
	// every record's MAC (domain.AuditTrailVerifier), and returns how many
	// records verified; on the first that does not, it returns a
	// *domain.AuditChainError (matching domain.ErrAuditChainBroken).
	Verify(ctx context.Context) (verified int, err error)
}

// AuditMAC authenticates audit records and checkpoints under a key the
// audit store does not hold, so that a row written with database rights
// alone fails verification. Messages are the domain's MAC inputs
// (domain.AuditMACInput and the like).
type AuditMAC interface {
	// Sign returns the MAC of msg as lowercase hex; an error (wrapping
	// ErrVaultUnavailable when the vault is down) when the key cannot be
	// loaded.
	Sign(ctx context.Context, msg []byte) (string, error)
	// Verify reports whether mac is msg's MAC, in constant time; an error
	// when the key cannot be loaded.
	Verify(ctx context.Context, msg []byte, mac string) (bool, error)
}
