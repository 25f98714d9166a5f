package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// Security schemes, by the names the OpenAPI document gives them.
const (
	adminKeyScheme   = "adminKey"
	orderTokenScheme = "orderToken"
	// customerSessionScheme is a signed-in customer's access token
	// (POST /v1/customer/sessions).
	customerSessionScheme = "customerSession"
)

// Security requirements of the operations. Public operations say so
// explicitly (one empty requirement) so a generated client knows that they
// need no credentials rather than inheriting a default. The scopes of an
// adminKey requirement are the roles allowed to call the operation (OpenAPI
// 3.1 role names); an adminKey requirement without scopes means admin only,
// so an operation that forgets to say is never open to support.
var (
	publicSecurity     = []map[string][]string{{}}
	adminSecurity      = []map[string][]string{{adminKeyScheme: {"admin"}}}
	supportSecurity    = []map[string][]string{{adminKeyScheme: {"admin", "support"}}}
	orderTokenSecurity = []map[string][]string{{orderTokenScheme: {}}}
	// customerSessionSecurity: the operations of a signed-in customer.
	customerSessionSecurity = []map[string][]string{{customerSessionScheme: {}}}
)

// authKey types the request-context values authenticate sets.
type authKey int

const (
	adminActorKey    authKey = iota // application.AdminPrincipal: the admin key that authenticated
	orderTokenKey                   // string: the bearer order access token
	customerTokenKey                // string: the bearer customer access token
)

// authenticate is the middleware that enforces each operation's security
// requirement before its handler runs: an admin key (see adminKey) whose
// role the operation allows, or the presence of an order token (which the
// use case checks against the order). It answers 401 problem+json when
// the credential is missing or wrong, 403 when the key's role may not call
// the operation, and otherwise passes the credential to the handler in the
// context (actorFrom, orderTokenFrom). Every admin request is audited: the
// refused ones here, the others with the status they got. Public
// operations pass through untouched.
func (s *Server) authenticate(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		auth := ctx.Header("Authorization")
		switch {
		case requires(ctx.Operation(), adminKeyScheme):
			s.adminKey(api, ctx, auth, next)
			return
		case requires(ctx.Operation(), orderTokenScheme):
			tok, ok := bearer(auth)
			if !ok {
				s.unauthorized(api, ctx, errOrderTokenRequired)
				return
			}
			ctx = huma.WithValue(ctx, orderTokenKey, tok)
		case requires(ctx.Operation(), customerSessionScheme):
			tok, ok := bearer(auth)
			if !ok {
				s.unauthorized(api, ctx, errCustomerTokenRequired)
				return
			}
			ctx = huma.WithValue(ctx, customerTokenKey, tok)
		}
		next(ctx)
	}
}

// adminKey authenticates and authorises an admin request, runs it and
// audits it. The key is checked first: a valid key is never refused by
// the failure limit, whatever others sent from its address; a failed
// attempt spends its source's failure budget, and once that is spent the
// failures answer 429 (unaudited: a flood must not fill the trail).
func (s *Server) adminKey(api huma.API, ctx huma.Context, auth string, next func(huma.Context)) {
	op := ctx.Operation()
	who, err := s.checkAdminKey(ctx.Context(), auth)
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		r := classify(s.log, err)
		_ = huma.WriteErr(api, ctx, r.status, r.detailFor(err))
		return
	}
	if err != nil {
		ip := clientIP(ctx.Context())
		if wait, over := s.overLimit(ctx.Context(), "admin_auth", ip, s.limits.AdminFailures); over {
			ctx.SetHeader("Retry-After", retryAfterSeconds(wait))
			_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests, "too many failed admin authentications from this address; try again after Retry-After seconds")
			return
		}
		why := "no bearer key"
		if _, present := bearer(auth); present {
			why = "unknown key"
		}
		// Never the key: only where the attempt came from and why it failed.
		s.log.Warn("admin authentication failed", "ip", ip, "operation", op.OperationID, "reason", why)
		// The subject is the route, never the path an unauthenticated caller
		// chose; the id it asked for is kept, bounded and escaped by the use
		// case, among the details.
		details := map[string]string{"operation": op.OperationID, "status": strconv.Itoa(http.StatusUnauthorized), "reason": why, "ip": ip}
		if id := ctx.Param("id"); id != "" {
			details["requested_id"] = id
		}
		s.auditAdmin(ctx, application.ActorAnonymous, application.AuditAdminUnknownKey, op.Path, details)
		s.unauthorized(api, ctx, errAdminKeyRequired)
		return
	}
	details := map[string]string{"operation": op.OperationID, "key_id": who.ID, "key_name": who.Name, "role": who.Role.String()}
	if !allows(op, who.Role) {
		details["status"] = strconv.Itoa(http.StatusForbidden)
		s.auditAdmin(ctx, who.Actor(), application.AuditAdminDenied, ctx.Param("id"), details)
		r := classify(s.log, errAdminRoleForbidden)
		_ = huma.WriteErr(api, ctx, r.status, r.detailFor(errAdminRoleForbidden))
		return
	}
	next(huma.WithValue(ctx, adminActorKey, who))
	status := ctx.Status()
	if status == 0 { // a streamed answer that set no status: net/http sends 200
		status = http.StatusOK
	}
	details["status"] = strconv.Itoa(status)
	s.auditAdmin(ctx, who.Actor(), application.AuditAdminRequest, ctx.Param("id"), details)
}

// auditAdmin appends the compact record of an admin request about subject
// (the id in the path of an authenticated request). The answer is already
// on its way, so a failed append is logged, not answered.
func (s *Server) auditAdmin(ctx huma.Context, actor, action, subject string, details map[string]string) {
	if err := s.app.Commands.RecordAdminRequest.Handle(context.WithoutCancel(ctx.Context()), actor, action, subject, details); err != nil {
		s.log.Error("admin request not audited", "operation", details["operation"], "err", err)
	}
}

// allows reports whether role may call op: the roles its adminKey scopes
// name, or admin alone when they name none.
func allows(op *huma.Operation, role domain.AdminRole) bool {
	for _, req := range op.Security {
		roles, ok := req[adminKeyScheme]
		if !ok {
			continue
		}
		if len(roles) == 0 {
			return role == domain.RoleAdmin
		}
		return slices.Contains(roles, role.String())
	}
	return false
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

// actorFrom returns the audit name of the admin key authenticate put
// into ctx ("admin:<key id>"); empty outside admin operations.
func actorFrom(ctx context.Context) string {
	if p, ok := ctx.Value(adminActorKey).(application.AdminPrincipal); ok {
		return p.Actor()
	}
	return ""
}

// orderTokenFrom returns the order access token authenticate put into
// ctx; empty outside order-token operations.
func orderTokenFrom(ctx context.Context) string {
	tok, _ := ctx.Value(orderTokenKey).(string)
	return tok
}

// customerTokenFrom returns the customer access token authenticate found.
func customerTokenFrom(ctx context.Context) string {
	tok, _ := ctx.Value(customerTokenKey).(string)
	return tok
}

// checkAdminKey finds the admin key of an Authorization header: one of
// the bootstrap keys (KEYWARD_ADMIN_API_KEYS, role admin, named
// "bootstrap-N" in their order), compared in constant time, or a stored
// key. It returns an error wrapping domain.ErrNotFound for no bearer key,
// an unknown key or a revoked one, and the store's error when it cannot
// tell.
func (s *Server) checkAdminKey(ctx context.Context, authorization string) (application.AdminPrincipal, error) {
	tok, ok := bearer(authorization)
	if !ok {
		return application.AdminPrincipal{}, fmt.Errorf("%w: no bearer key", domain.ErrNotFound)
	}
	h := sha256.Sum256([]byte(tok))
	match := -1
	for i, k := range s.adminKeys {
		if subtle.ConstantTimeCompare(h[:], k[:]) == 1 {
			match = i
		}
	}
	if match >= 0 {
		name := "bootstrap-" + strconv.Itoa(match+1)
		return application.AdminPrincipal{ID: name, Name: name, Role: domain.RoleAdmin}, nil
	}
	return s.app.Queries.AdminKey.Handle(ctx, tok)
}

func bearer(authorization string) (string, bool) {
	const prefix = "bearer "
	if len(authorization) <= len(prefix) || !strings.EqualFold(authorization[:len(prefix)], prefix) {
		return "", false
	}
	tok := strings.TrimSpace(authorization[len(prefix):])
	return tok, tok != ""
}
