package domain

import "errors"

// Sentinel errors of the domain. Adapters translate their own failures into
// these, and the HTTP edge maps them to status codes in one place.
var (
	ErrNotFound          = errors.New("not found")
	ErrConflict          = errors.New("conflict")
	ErrInvalidMoney      = errors.New("invalid money")
	ErrInvalidEmail      = errors.New("invalid email")
	ErrInvalidOrder      = errors.New("invalid order")
	ErrInvalidTransition = errors.New("invalid status transition")
	ErrItemNotFound      = errors.New("order item not found")
	ErrLinkExpired       = errors.New("delivery link expired")
	ErrLinkRevoked       = errors.New("delivery link revoked")
	ErrLinkExhausted     = errors.New("delivery link has no reveals left")
	ErrProductInactive   = errors.New("product is not for sale")
	ErrOutOfStock        = errors.New("product is out of stock")
	ErrInvalidProduct    = errors.New("invalid product")
)
