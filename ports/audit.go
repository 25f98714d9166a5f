package ports

import (
	"context"

	"github.com/keyward/keyward/domain"
)

// AuditLog is the append-only, hash-chained record of who did what
// (DESIGN §6). Records are numbered 1, 2, 3… without gaps and each carries
// the hash of the one before, so concurrent appends never fork the chain.
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
	// Verify walks the whole log from seq 1 and returns how many records
	// verified; on the first that does not, it returns a
	// *domain.AuditChainError (matching domain.ErrAuditChainBroken).
	Verify(ctx context.Context) (verified int, err error)
}
