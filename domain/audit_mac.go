package domain

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"time"
)

// AuditMACAdopted is the action of the record that adopts a trail whose
// records were chained before the audit MAC key existed: it is the first
// record with a MAC, its details name the last record without one
// ("through_seq"), and its MAC covers its prev hash, so it vouches for
// the whole chain before it.
const AuditMACAdopted = "audit.mac_adopted"

// Domain separation tags: a MAC made for one purpose never verifies for
// another (a staged record's MAC is not a chained record's).
const (
	auditMACTag        = "keyward.audit.mac.v1"
	auditStagedMACTag  = "keyward.audit.staged.v1"
	auditCheckpointTag = "keyward.audit.checkpoint.v1"
)

// AuditMACInput is what a chained record's MAC covers: its Hash, which
// covers its seq, time, actor, action, subject, details and prev hash,
// and its Nonce when it has one. A verifier checks the hash against the
// contents first, so the MAC covers all of them: a forged, edited or
// reordered row fails, and so does one whose nonce was changed or removed.
func AuditMACInput(r AuditRecord) []byte {
	h := sha256.New()
	writeString(h, auditMACTag)
	writeString(h, r.Hash)
	if r.Nonce != "" {
		writeString(h, r.Nonce)
	}
	return h.Sum(nil)
}

// AuditStagedMACInput is what a staged record's MAC covers: its content
// (time in UTC to the microsecond, actor, action, subject, details), which
// is all a staged record has before it takes its place in the chain, and
// its Nonce, which tells a copy of the row from the row.
func AuditStagedMACInput(r AuditRecord) []byte {
	h := sha256.New()
	writeString(h, auditStagedMACTag)
	writeContent(h, r.At.UTC().Truncate(time.Microsecond), r)
	writeString(h, r.Nonce)
	return h.Sum(nil)
}

// AuditMACCheck reports whether mac is the MAC of msg under the audit MAC
// key; it returns an error when it cannot tell (the key is unavailable).
type AuditMACCheck func(msg []byte, mac string) (bool, error)

// AuditTrailVerifier checks a whole audit trail a page at a time: the hash
// chain (VerifyAuditChain), the seqs between pages, and the MACs. Records
// without a MAC are accepted only before the first record with one, and
// only when that record is seq 1 or the adoption record (AuditMACAdopted)
// naming the record before it; from then on every record needs a MAC that
// verifies. A trail with records and no MAC at all was never adopted and
// fails.
type AuditTrailVerifier struct {
	check         AuditMACCheck
	prev          string
	lastSeq       int64
	verified      int
	signed        bool  // a record with a MAC was seen
	firstUnsigned int64 // the first record without a MAC, before any with one
}

// NewAuditTrailVerifier returns a verifier at the start of a trail.
func NewAuditTrailVerifier(check AuditMACCheck) *AuditTrailVerifier {
	return &AuditTrailVerifier{check: check, prev: GenesisAuditHash}
}

// Next checks records as the continuation of those checked before. It
// returns an *AuditChainError for the first that does not verify, or the
// MAC check's own error.
func (v *AuditTrailVerifier) Next(records []AuditRecord) error {
	if len(records) > 0 && v.lastSeq > 0 && records[0].Seq != v.lastSeq+1 {
		return &AuditChainError{Seq: records[0].Seq, Reason: fmt.Sprintf("seq follows seq %d", v.lastSeq)}
	}
	n, chainErr := VerifyAuditChain(records, v.prev)
	for _, r := range records[:n] {
		if err := v.checkMAC(r); err != nil {
			return err
		}
		v.prev, v.lastSeq = r.Hash, r.Seq
		v.verified++
	}
	return chainErr
}

func (v *AuditTrailVerifier) checkMAC(r AuditRecord) error {
	if r.MAC == "" {
		if v.signed {
			return &AuditChainError{Seq: r.Seq, Reason: "record carries no MAC"}
		}
		if v.firstUnsigned == 0 {
			v.firstUnsigned = r.Seq
		}
		return nil
	}
	ok, err := v.check(AuditMACInput(r), r.MAC)
	if err != nil {
		return fmt.Errorf("check the MAC of audit record %d: %w", r.Seq, err)
	}
	if !ok {
		return &AuditChainError{Seq: r.Seq, Reason: "MAC does not verify under the audit key"}
	}
	if !v.signed && v.firstUnsigned != 0 &&
		(r.Action != AuditMACAdopted || r.Details["through_seq"] != strconv.FormatInt(r.Seq-1, 10)) {
		return &AuditChainError{Seq: v.firstUnsigned, Reason: fmt.Sprintf("records without a MAC are followed by seq %d, which is not their adoption", r.Seq)}
	}
	v.signed = true
	return nil
}

// Verified returns how many records verified so far.
func (v *AuditTrailVerifier) Verified() int { return v.verified }

// Done returns how many records verified, or an *AuditChainError when the
// trail holds records without a MAC that no adoption followed.
func (v *AuditTrailVerifier) Done() (int, error) {
	if !v.signed && v.firstUnsigned != 0 {
		return int(v.firstUnsigned - 1), &AuditChainError{Seq: v.firstUnsigned, Reason: "record carries no MAC and no adoption follows it"}
	}
	return v.verified, nil
}
