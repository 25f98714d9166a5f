package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// Security schemes, by the names the OpenAPI document gives them.
const (
	adminKeyScheme   = "adminKey"
	orderTokenScheme = "orderToken"
)

// Security requirements of the operations. Public operations say so
// explicitly (one empty requirement) so a generated client knows that they
// need no credentials rather than inheriting a default.
var (
	publicSecurity     = []map[string][]string{{}}
	adminSecurity      = []map[string][]string{{adminKeyScheme: {}}}
	orderTokenSecurity = []map[string][]string{{orderTokenScheme: {}}}
)

// authKey types the request-context values authenticate sets.
type authKey int

const (
	adminActorKey authKey = iota // string: the admin key's audit name
	orderTokenKey                // string: the bearer order access token
)

// authenticate is the middleware that enforces each operation's security
// requirement before its handler runs: an admin key checked in constant
// time, or the presence of an order token (which the use case checks
// against the order). It answers 401 problem+json when the credential is
// missing or wrong, and otherwise passes it to the handler in the context
// (actorFrom, orderTokenFrom). Public operations pass through untouched.
func (s *Server) authenticate(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		auth := ctx.Header("Authorization")
		switch {
		case requires(ctx.Operation(), adminKeyScheme):
			source, now := "ip:"+clientIP(ctx.RemoteAddr()), time.Now()
			if blocked, wait := s.adminFailures.exhausted(source, now); blocked {
				ctx.SetHeader("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
				_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "too many failed admin authentications from this address; try again after Retry-After seconds")
				return
			}
			actor, ok := s.checkAdminKey(auth)
			if !ok {
				s.adminFailures.spend(source, now)
				why := "no bearer key"
				if _, present := bearer(auth); present {
					why = "unknown key"
				}
				// Never the key: only where the attempt came from and why it failed.
				s.log.Warn("admin authentication failed", "ip", clientIP(ctx.RemoteAddr()), "operation", ctx.Operation().OperationID, "reason", why)
				s.unauthorized(api, ctx, errAdminKeyRequired)
				return
			}
			ctx = huma.WithValue(ctx, adminActorKey, actor)
		case requires(ctx.Operation(), orderTokenScheme):
			tok, ok := bearer(auth)
			if !ok {
				s.unauthorized(api, ctx, errOrderTokenRequired)
				return
			}
			ctx = huma.WithValue(ctx, orderTokenKey, tok)
		}
		next(ctx)
	}
}

func (s *Server) unauthorized(api huma.API, ctx huma.Context, err error) {
	r := classify(s.log, err)
	ctx.SetHeader("WWW-Authenticate", "Bearer")
	_ = huma.WriteErr(api, ctx, r.status, r.detailFor(err))
}

// requires reports whether op's security requirements name scheme.
func requires(op *huma.Operation, scheme string) bool {
	return slices.ContainsFunc(op.Security, func(req map[string][]string) bool {
		_, ok := req[scheme]
		return ok
	})
}

// actorFrom returns the audit name authenticate put into ctx; empty
// outside admin operations.
func actorFrom(ctx context.Context) string {
	actor, _ := ctx.Value(adminActorKey).(string)
	return actor
}

// orderTokenFrom returns the order access token authenticate put into
// ctx; empty outside order-token operations.
func orderTokenFrom(ctx context.Context) string {
	tok, _ := ctx.Value(orderTokenKey).(string)
	return tok
}

// checkAdminKey checks an Authorization header against the admin keys in
// constant time and names the matching key for the audit log by a short
// fingerprint of its hash ("admin:1a2b3c4d"); ok is false for no match.
func (s *Server) checkAdminKey(authorization string) (actor string, ok bool) {
	tok, ok := bearer(authorization)
	if !ok {
		return "", false
	}
	h := sha256.Sum256([]byte(tok))
	match := -1
	for i, k := range s.adminKeys {
		if subtle.ConstantTimeCompare(h[:], k[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", false
	}
	return "admin:" + hex.EncodeToString(h[:4]), true
}

func bearer(authorization string) (string, bool) {
	const prefix = "bearer "
	if len(authorization) <= len(prefix) || !strings.EqualFold(authorization[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(authorization[len(prefix):])
	return tok, tok != ""
}
