package domain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// GenesisAuditHash is the PrevHash of the first record of an audit log.
var GenesisAuditHash = strings.Repeat("0", 2*sha256.Size)

// auditHashTag starts every hashed record: it separates audit hashes from
// other SHA-256 uses and versions the encoding.
const auditHashTag = "keyward.audit.v1"

var (
	// ErrInvalidAuditRecord is returned for an entry an audit log refuses.
	ErrInvalidAuditRecord = errors.New("invalid audit record")
	// ErrAuditChainBroken is wrapped by every *AuditChainError.
	ErrAuditChainBroken = errors.New("audit chain broken")
)

// AuditChainError names the first record of an audit chain that does not
// verify. It wraps ErrAuditChainBroken.
type AuditChainError struct {
	Seq    int64
	Reason string
}

// Error names the sequence number and the reason.
func (e *AuditChainError) Error() string {
	return fmt.Sprintf("%v at seq %d: %s", ErrAuditChainBroken, e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrAuditChainBroken) true.
func (e *AuditChainError) Unwrap() error { return ErrAuditChainBroken }

// AuditRecord is one entry of the append-only audit log: who (Actor) did
// what (Action) to what (Subject). Seq numbers records 1, 2, 3… without
// gaps; PrevHash is the Hash of the record before (GenesisAuditHash for
// seq 1), so that changing, removing or reordering a record breaks every
// later link.
type AuditRecord struct {
	Seq      int64
	At       time.Time
	Actor    string // "admin:<key id>", "customer", "system"
	Action   string // "keys.revealed", "order.revoked", …
	Subject  string // what was acted on, usually an order id; may be empty
	Details  map[string]string
	PrevHash string // lowercase hex SHA-256
	Hash     string // lowercase hex SHA-256
	// MAC is the lowercase hex HMAC-SHA256 of AuditMACInput under the
	// audit MAC key, which the store does not hold; empty only on records
	// chained before the key existed (see AuditTrailVerifier).
	MAC string
	// Nonce is 128 random bits in lowercase hex that a store staging
	// records gives each one, covered by the staged and the chained MAC,
	// so that a staged row copied (replayed) is told from the original;
	// empty on records stored without one.
	Nonce string
}

// NewAuditRecord returns an unchained record of an action; the log sets
// Seq and At and then chains it with ChainAuditRecord. It returns
// ErrInvalidAuditRecord when actor or action is empty, a detail key is
// empty, or any text is not valid UTF-8 or holds a NUL (every store must
// keep the text byte for byte, and PostgreSQL text cannot hold NUL).
func NewAuditRecord(actor, action, subject string, details map[string]string) (AuditRecord, error) {
	if actor == "" || action == "" {
		return AuditRecord{}, fmt.Errorf("%w: an audit record needs an actor and an action", ErrInvalidAuditRecord)
	}
	for _, s := range []string{actor, action, subject} {
		if err := auditText(s); err != nil {
			return AuditRecord{}, err
		}
	}
	for k, v := range details {
		if k == "" {
			return AuditRecord{}, fmt.Errorf("%w: empty detail key", ErrInvalidAuditRecord)
		}
		if err := errors.Join(auditText(k), auditText(v)); err != nil {
			return AuditRecord{}, err
		}
	}
	return AuditRecord{Actor: actor, Action: action, Subject: subject, Details: cloneDetails(details)}, nil
}

func auditText(s string) error {
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%w: %q is not valid UTF-8 text without NUL", ErrInvalidAuditRecord, s)
	}
	return nil
}

// ChainAuditRecord returns r linked after the record whose hash is prev:
// At in UTC truncated to the microsecond (the precision of PostgreSQL's
// timestamptz, so that a stored record still verifies), Details copied
// (nil when empty), PrevHash = prev and Hash computed over all of it.
func ChainAuditRecord(prev string, r AuditRecord) AuditRecord {
	r.At = r.At.UTC().Truncate(time.Microsecond)
	r.Details = cloneDetails(r.Details)
	r.PrevHash = prev
	r.Hash = auditHash(r)
	return r
}

// VerifyAuditChain checks records in order, as a continuation of the
// record whose hash is prev (GenesisAuditHash when records start the log).
// Each record must carry PrevHash = the hash before it, a Hash that
// matches its contents, and the seq after the previous record's (seq 1
// exactly when following the genesis hash). It returns how many records
// verified and, for the first that does not, an *AuditChainError.
func VerifyAuditChain(records []AuditRecord, prev string) (int, error) {
	for i, r := range records {
		var reason string
		switch {
		case r.Seq < 1:
			reason = "seq is not positive"
		case (r.Seq == 1) != (prev == GenesisAuditHash):
			reason = "only seq 1 follows the genesis hash"
		case i > 0 && r.Seq != records[i-1].Seq+1:
			reason = fmt.Sprintf("seq follows seq %d", records[i-1].Seq)
		case r.PrevHash != prev:
			reason = fmt.Sprintf("prev hash %.12s… is not the previous record's hash %.12s…", r.PrevHash, prev)
		case r.Hash != auditHash(r):
			reason = "hash does not match the record's contents"
		}
		if reason != "" {
			return i, &AuditChainError{Seq: r.Seq, Reason: reason}
		}
		prev = r.Hash
	}
	return len(records), nil
}

// auditHash is the lowercase hex SHA-256 of the record's canonical bytes:
// a sequence of fields, each unsigned integer 8 bytes big-endian and each
// string its length in bytes (such an integer) followed by its bytes:
//
//	string  "keyward.audit.v1"
//	integer Seq
//	string  At in UTC, formatted time.RFC3339Nano ("2026-11-27T12:00:00.123456Z")
//	string  Actor
//	string  Action
//	string  Subject
//	integer the number of details
//	string  key, string value — for each detail, keys in increasing byte order
//	string  PrevHash as stored (hex)
//
// Every field is length-prefixed and the layout is fixed, so two different
// records never encode alike. Hash itself is not part of the input.
func auditHash(r AuditRecord) string {
	h := sha256.New()
	writeString(h, auditHashTag)
	writeUint(h, uint64(r.Seq))
	writeContent(h, r.At.UTC(), r)
	writeString(h, r.PrevHash)
	return hex.EncodeToString(h.Sum(nil))
}

// writeContent writes what a record says, at the time given: the chain
// hash and the staged record's MAC cover it alike.
func writeContent(h hash.Hash, at time.Time, r AuditRecord) {
	writeString(h, at.Format(time.RFC3339Nano))
	writeString(h, r.Actor)
	writeString(h, r.Action)
	writeString(h, r.Subject)
	writeUint(h, uint64(len(r.Details)))
	for _, k := range slices.Sorted(maps.Keys(r.Details)) {
		writeString(h, k)
		writeString(h, r.Details[k])
	}
}

func writeUint(h hash.Hash, n uint64) { _, _ = h.Write(binary.BigEndian.AppendUint64(nil, n)) }

func writeString(h hash.Hash, s string) {
	writeUint(h, uint64(len(s)))
	_, _ = h.Write([]byte(s))
}

func cloneDetails(d map[string]string) map[string]string {
	if len(d) == 0 {
		return nil
	}
	return maps.Clone(d)
}
