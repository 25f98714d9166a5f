package application

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

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
// The subject and the details come from a request, sent by anyone for a
// refused one: they are stored bounded and escaped (requestText).
func (h RecordAdminRequest) Handle(ctx context.Context, actor, action, subject string, details map[string]string) error {
	clean := make(map[string]string, len(details))
	for k, v := range details {
		clean[k] = requestText(v)
	}
	if _, err := h.audit.Append(ctx, actor, action, requestText(subject), clean); err != nil {
		return fmt.Errorf("audit admin request: %w", err)
	}
	return nil
}

// maxRequestText bounds a value taken from a request into the trail: the
// ids and names it holds are far shorter.
const maxRequestText = 128

// requestText is s as printable ASCII, at most maxRequestText bytes:
// control, invisible and other non-ASCII characters and backslashes are
// written as Go escapes (\x00, \u200b, \\), and what goes past the bound
// is cut and marked with "...". Plain ids pass unchanged.
func requestText(s string) string {
	var pieces []string
	n := 0
	for len(s) > 0 && n <= maxRequestText {
		r, size := utf8.DecodeRuneInString(s)
		piece := s[:size]
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[0])
		case r < 0x20 || r >= 0x7f || r == '\\':
			q := strconv.QuoteRuneToASCII(r) // 'x', x escaped
			piece = q[1 : len(q)-1]
		}
		pieces, n, s = append(pieces, piece), n+len(piece), s[size:]
	}
	if n <= maxRequestText {
		return strings.Join(pieces, "")
	}
	for n > maxRequestText-len("...") {
		n -= len(pieces[len(pieces)-1])
		pieces = pieces[:len(pieces)-1]
	}
	return strings.Join(pieces, "") + "..."
}
