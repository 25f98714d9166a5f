package http

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// limitOrder spends one order of the client address's budget, then one of
// the recipient's, and answers a 429 problem with Retry-After when either
// is spent: one source may not place orders without end, and nobody may
// make keyward mail one address thirty orders. It runs as the use case's
// Admit, so a retry that an Idempotency-Key answers with the order it
// already made spends nothing.
func (s *Server) limitOrder(ctx context.Context, email string) error {
	if wait, over := s.overLimit(ctx, "order_source", clientIP(ctx), s.limits.OrdersPerSource); over {
		return tooManyError(wait, "too many orders from this address; try again after Retry-After seconds")
	}
	// Hashed: the key may be kept in a shared store, and an email is
	// personal data.
	h := sha256.Sum256([]byte(canonicalEmail(email)))
	if wait, over := s.overLimit(ctx, "order_email", hex.EncodeToString(h[:]), s.limits.OrdersPerEmail); over {
		return tooManyError(wait, "too many orders for this email address; try again after Retry-After seconds")
	}
	return nil
}

// canonicalEmail is the mailbox an address reaches, as far as keyward can
// tell without knowing the provider: trimmed, case-folded, and without a
// +tag in the local part (most providers deliver a+x@ to a@, so tags
// would otherwise give a victim's mailbox a fresh budget each). Provider
// rules such as Gmail's ignored dots are not applied: on other domains
// dots matter.
func canonicalEmail(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	at := strings.LastIndex(e, "@") // a quoted local part may hold an @
	if at < 0 {
		return e
	}
	local, domain := e[:at], e[at+1:]
	if base, _, tagged := strings.Cut(local, "+"); tagged && base != "" {
		local = base
	}
	return local + "@" + domain
}
