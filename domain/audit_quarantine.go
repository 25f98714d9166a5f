package domain

import (
	"errors"
	"fmt"
)

// ErrAuditQuarantined is wrapped by every *AuditQuarantineError.
var ErrAuditQuarantined = errors.New("staged audit records were quarantined")

// AuditQuarantineError reports a trail whose chain verified but whose
// store holds staged records it refused to chain (a MAC that does not
// verify, a copied record): someone wrote around the audit log, so the
// trail is not whole. PendingIDs are the first of them (their ids in the
// staging table).
type AuditQuarantineError struct {
	Count      int
	PendingIDs []int64
}

// Error names how many and which.
func (e *AuditQuarantineError) Error() string {
	return fmt.Sprintf("%v: %d refused staged records (pending ids %v) wait in audit_quarantine", ErrAuditQuarantined, e.Count, e.PendingIDs)
}

// Unwrap makes errors.Is(err, ErrAuditQuarantined) true.
func (e *AuditQuarantineError) Unwrap() error { return ErrAuditQuarantined }
