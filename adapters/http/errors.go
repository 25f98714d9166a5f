package http

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// problem maps an application or domain error to an RFC 9457 response. It
// is the one place where errors become status codes.
func problem(log *slog.Logger, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, domain.ErrNotFound), errors.Is(err, domain.ErrItemNotFound):
		return huma.Error404NotFound("not found")
	case errors.Is(err, domain.ErrLinkExpired):
		return huma.Error410Gone("this delivery link has expired; ask for a new one from your order page")
	case errors.Is(err, domain.ErrLinkRevoked):
		return huma.Error410Gone("this delivery link has been revoked")
	case errors.Is(err, domain.ErrLinkExhausted):
		return huma.Error410Gone("this delivery link has no reveals left")
	case errors.Is(err, domain.ErrInvalidEmail), errors.Is(err, domain.ErrInvalidOrder),
		errors.Is(err, domain.ErrInvalidLink),
		errors.Is(err, domain.ErrInvalidMoney), errors.Is(err, domain.ErrOutOfStock),
		errors.Is(err, domain.ErrProductInactive), errors.Is(err, domain.ErrInvalidProduct):
		return huma.Error422UnprocessableEntity(err.Error())
	case errors.Is(err, domain.ErrInvalidTransition), errors.Is(err, domain.ErrConflict):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, ports.ErrSignatureInvalid):
		return huma.Error401Unauthorized("invalid or missing signature")
	case errors.Is(err, ports.ErrMalformedNotice):
		return huma.Error400BadRequest(err.Error())
	case errors.Is(err, application.ErrUnavailable), errors.Is(err, ports.ErrVaultUnavailable):
		log.Warn("dependency unavailable", "err", err)
		return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("temporarily unavailable, try again shortly"),
			http.Header{"Retry-After": []string{"5"}})
	}
	log.Error("request failed", "err", err)
	return huma.Error500InternalServerError("internal error")
}
