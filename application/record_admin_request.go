package application

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/ports"
)

// RecordAdminRequest writes the compact audit record of one admin API
// request: who (the key's actor name, never the key), which operation and
// how it ended. The change a request makes is recorded by its own use
// case; this record says that the request happened, reads included.
type RecordAdminRequest struct{ audit ports.AuditLog }

// NewRecordAdminRequest wires RecordAdminRequest; it panics when a
// dependency is nil.
func NewRecordAdminRequest(audit ports.AuditLog) RecordAdminRequest {
	require("RecordAdminRequest", "audit", audit)
	return RecordAdminRequest{audit: audit}
}

// Handle appends the record (action is one of AuditAdminRequest,
// AuditAdminDenied, AuditAdminUnknownKey); it returns the log's error.
func (h RecordAdminRequest) Handle(ctx context.Context, actor, action, subject string, details map[string]string) error {
	if _, err := h.audit.Append(ctx, actor, action, subject, details); err != nil {
		return fmt.Errorf("audit admin request: %w", err)
	}
	return nil
}
