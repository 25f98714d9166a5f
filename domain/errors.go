package domain

import "errors"

// Sentinel errors of the domain. Functions wrap them with details; match
// them with errors.Is. Adapters translate their own failures into these,
// and the HTTP edge maps them to status codes in one place.
var (
	// ErrNotFound: no such order, link, product or stored record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the id (or a unique value) exists, or a concurrent save won.
	ErrConflict = errors.New("conflict")
	// ErrInvalidMoney: a malformed or negative amount, or mixed currencies.
	ErrInvalidMoney = errors.New("invalid money")
	// ErrInvalidEmail: not a single bare e-mail address.
	ErrInvalidEmail = errors.New("invalid email")
	// ErrInvalidOrder: an order, item, payment or timeline entry that breaks
	// the order's rules, or corrupt stored order data.
	ErrInvalidOrder = errors.New("invalid order")
	// ErrInvalidTransition: a step the order's or an item's state machine
	// does not allow from where it is.
	ErrInvalidTransition = errors.New("invalid status transition")
	// ErrItemNotFound: the order has no item with that id.
	ErrItemNotFound = errors.New("order item not found")
	// ErrInvalidLink: a delivery link without ids, or with a ttl or reveal
	// limit that is not positive.
	ErrInvalidLink = errors.New("invalid delivery link")
	// ErrInvalidRevelation: a key revelation that does not name an item of
	// its link's order, or corrupt stored revelation data.
	ErrInvalidRevelation = errors.New("invalid key revelation")
	// ErrLinkExpired: the delivery link's time is up.
	ErrLinkExpired = errors.New("delivery link expired")
	// ErrLinkRevoked: the delivery link (or its order's keys) was revoked.
	ErrLinkRevoked = errors.New("delivery link revoked")
	// ErrLinkExhausted: the delivery link has used all its reveals.
	ErrLinkExhausted = errors.New("delivery link has no reveals left")
	// ErrProductInactive: the product is not for sale.
	ErrProductInactive = errors.New("product is not for sale")
	// ErrOutOfStock: fewer keys in stock than asked for.
	ErrOutOfStock = errors.New("product is out of stock")
	// ErrInvalidProduct: a catalog entry with a missing or invalid field.
	ErrInvalidProduct = errors.New("invalid product")
)
