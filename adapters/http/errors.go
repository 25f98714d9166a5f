package http

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Errors the HTTP layer itself raises: a request without the credentials
// its operation's security requirement asks for.
var (
	errAdminKeyRequired   = errors.New("no valid admin API key")
	errOrderTokenRequired = errors.New("no order access token")
	// errCustomerTokenRequired: a customer operation without a bearer token.
	errCustomerTokenRequired = errors.New("no customer access token")
	errAdminRoleForbidden    = errors.New("the admin key's role does not allow this operation")
)

// errorRule is one row of errorTable: the response an error matching any of
// its targets gets.
type errorRule struct {
	targets []error
	status  int
	// detail is the problem's detail; empty means the error's own text
	// (validation errors that tell the client what to fix).
	detail string
	// page is what the reveal page tells the customer.
	page string
	// reason names a delivery link's state in the delivery status body.
	reason string
	// retryAfter, in seconds, is sent as Retry-After when not zero.
	retryAfter int
}

// errorTable is the one place where application and domain errors become
// status codes: the JSON API (problem), its authentication middleware and
// the reveal page (renderError) all read it. The first matching row wins.
var errorTable = []errorRule{
	{targets: []error{domain.ErrNotFound, domain.ErrItemNotFound}, status: http.StatusNotFound, detail: "not found",
		page: "This link is not valid. Check that you copied the whole link from your email."},
	{targets: []error{domain.ErrSignInLinkInvalid}, status: http.StatusGone,
		detail: "this sign-in link is unknown, expired or already used; ask for a new one",
		page:   "This sign-in link has expired or was already used. Ask for a new one below."},
	{targets: []error{domain.ErrCustomerSessionInvalid, errCustomerTokenRequired}, status: http.StatusUnauthorized,
		detail: "sign in again: send a valid customer access_token as 'Authorization: Bearer <token>'",
		page:   "Your session has ended. Ask for a new sign-in link below."},
	{targets: []error{domain.ErrLinkExpired}, status: http.StatusGone, reason: "expired",
		detail: "this delivery link has expired; ask for a new one from your order page",
		page:   "This link has expired. You can ask for a new one from your order."},
	{targets: []error{domain.ErrLinkRevoked}, status: http.StatusGone, reason: "revoked",
		detail: "this delivery link has been revoked", page: "This link has been revoked."},
	{targets: []error{domain.ErrLinkExhausted}, status: http.StatusGone, reason: "exhausted",
		detail: "this delivery link has no reveals left", page: "This link has been used as many times as it allows."},
	{targets: []error{domain.ErrInvalidEmail, domain.ErrInvalidOrder, domain.ErrInvalidLink, domain.ErrInvalidMoney,
		domain.ErrProductInactive, domain.ErrInvalidProduct, domain.ErrInvalidAdminKey, application.ErrInvalidFilter, domain.ErrInvalidPricing, domain.ErrInvalidSync, domain.ErrInvalidWebhook, domain.ErrInvalidClaim}, status: http.StatusUnprocessableEntity,
		page: "This request cannot be processed."},
	{targets: []error{domain.ErrClaimWindowClosed}, status: http.StatusConflict,
		page: "This key can no longer be reported here: keys are taken back for a limited time after they are first shown. Reply to your delivery email."},
	{targets: []error{domain.ErrReplacementLimit}, status: http.StatusConflict,
		page: "This key was replaced already."},
	{targets: []error{domain.ErrOutOfStock}, status: http.StatusConflict,
		page: "This product is out of stock."},
	{targets: []error{domain.ErrWebhookEndpointDisabled, domain.ErrWebhookMessagePending}, status: http.StatusConflict,
		page: "This cannot be done in the webhook's current state."},
	{targets: []error{domain.ErrInvalidTransition, domain.ErrConflict, domain.ErrAdminKeyRevoked}, status: http.StatusConflict,
		page: "This cannot be done in the order's current state."},
	{targets: []error{errAdminKeyRequired}, status: http.StatusUnauthorized, detail: "admin API key required",
		page: "This needs an admin API key."},
	{targets: []error{errAdminRoleForbidden}, status: http.StatusForbidden, detail: "this admin key's role does not allow this operation",
		page: "This admin key may not do this."},
	{targets: []error{errOrderTokenRequired}, status: http.StatusUnauthorized,
		detail: "send the order's access token as 'Authorization: Bearer <token>'", page: "This needs the order's access token."},
	{targets: []error{ports.ErrSignatureInvalid}, status: http.StatusUnauthorized, detail: "invalid or missing signature",
		page: "This needs a valid signature."},
	{targets: []error{ports.ErrMalformedNotice}, status: http.StatusBadRequest, page: "This request is malformed."},
	{targets: []error{application.ErrRateLimited}, status: http.StatusTooManyRequests,
		page: "This was asked for too often. Please wait a while and try again."},
	// The supplier refused for good (credentials, a bad request): the
	// detail is its reason, for the operator who asked.
	{targets: []error{ports.ErrSupplierPermanent}, status: http.StatusBadGateway,
		page: "Our supplier refused this request."},
	{targets: []error{application.ErrUnavailable, ports.ErrVaultUnavailable, ports.ErrStorageUnavailable}, status: http.StatusServiceUnavailable,
		detail: "temporarily unavailable, try again shortly", retryAfter: 5,
		page: "Your keys are safe but cannot be opened right now. Please try again in a minute; nothing was used up."},
}

// internalError answers errors no row matches.
var internalError = errorRule{status: http.StatusInternalServerError, detail: "internal error",
	page: "Something went wrong on our side. Please try again in a minute."}

// ruleFor returns the first row of errorTable matching err, internalError
// when none does.
func ruleFor(err error) errorRule {
	for _, r := range errorTable {
		for _, t := range r.targets {
			if errors.Is(err, t) {
				return r
			}
		}
	}
	return internalError
}

// classify returns the rule for err and logs the errors an operator should
// see: dependencies that are down and failures no row explains.
func classify(log *slog.Logger, err error) errorRule {
	r := ruleFor(err)
	switch {
	case r.status >= http.StatusInternalServerError && r.retryAfter > 0:
		log.Warn("dependency unavailable", "err", bounded(err))
	case r.status >= http.StatusInternalServerError:
		log.Error("request failed", "err", bounded(err))
	}
	return r
}

// detailFor is the problem detail for err under r.
func (r errorRule) detailFor(err error) string {
	if r.detail != "" {
		return r.detail
	}
	return err.Error()
}

// headersFor are the response headers r asks for err: Retry-After, from
// the error itself when it says how long to wait (a rate limit).
func (r errorRule) headersFor(err error) http.Header {
	after := r.retryAfter
	if d, ok := application.RetryAfter(err); ok {
		after = int(math.Ceil(d.Seconds()))
	}
	if after == 0 {
		return nil
	}
	return http.Header{"Retry-After": []string{strconv.Itoa(after)}}
}

// problem maps an application or domain error to an RFC 9457 response by
// errorTable; nil stays nil.
func problem(log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	r := classify(log, err)
	se := huma.NewError(r.status, r.detailFor(err))
	if h := r.headersFor(err); h != nil {
		return huma.ErrorWithHeaders(se, h)
	}
	return se
}

// bounded is err's text for a log line: errors can carry client input (a
// database error quoting a value), so it is cut to a sane length. The JSON
// log handler escapes what is left.
func bounded(err error) string {
	const max = 1024
	msg := err.Error()
	if len(msg) > max {
		msg = strings.ToValidUTF8(msg[:max], "") + "…"
	}
	return msg
}
