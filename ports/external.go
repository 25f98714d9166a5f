package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
)

// Supplier errors. Adapters wrap one of these so the application can tell
// a retry from a refund.
var (
	// ErrSupplierTemporary: network, rate limit, 5xx, lock: retry later.
	ErrSupplierTemporary = errors.New("supplier temporarily unavailable")
	// ErrSupplierPermanent: the purchase cannot succeed as asked (product
	// unavailable, balance, bad request).
	ErrSupplierPermanent = errors.New("supplier refused the purchase")
	// ErrKeysPending: the supplier order exists but keys are not ready.
	ErrKeysPending = errors.New("supplier keys not ready yet")
)

// SupplierProduct is a product as the supplier lists it.
type SupplierProduct struct {
	ID       string
	Name     string
	Platform string
	Region   string
	Cost     domain.Money
	Qty      int
}

// PurchaseRequest asks the supplier for keys. ExternalID is our item id:
// the supplier refuses to create a second order for it.
type PurchaseRequest struct {
	ExternalID string
	ProductID  string
	Qty        int
	Price      domain.Money
}

// SupplierOrder is the supplier's view of a purchase.
type SupplierOrder struct {
	ID         string
	ExternalID string
	Status     string
}

// SupplierKey is one plaintext key as delivered. It must be sealed at once
// and never logged or stored.
type SupplierKey struct {
	ContentType string // "text/plain", "image/png", ...
	Data        []byte
}

// Supplier buys keys.
type Supplier interface {
	// Name identifies the supplier ("sandbox", "kinguin").
	Name() string
	// Products lists the supplier's catalog.
	Products(ctx context.Context) ([]SupplierProduct, error)
	// PlaceOrder buys; for an ExternalID already ordered it returns the
	// existing order instead of buying again.
	PlaceOrder(ctx context.Context, r PurchaseRequest) (SupplierOrder, error)
	// FindOrder looks an order up by our external id; domain.ErrNotFound.
	FindOrder(ctx context.Context, externalID string) (SupplierOrder, error)
	// Keys returns the order's keys; ErrKeysPending while not all are ready.
	Keys(ctx context.Context, supplierOrderID string) ([]SupplierKey, error)
	// Health returns nil when the supplier answers.
	Health(ctx context.Context) error
}

// PaymentRequest asks a gateway for a payment of an order.
type PaymentRequest struct {
	OrderID     string
	Price       domain.Money
	Description string
}

// PaymentGateway creates crypto payments.
type PaymentGateway interface {
	// CreatePayment returns where and how much to pay.
	CreatePayment(ctx context.Context, r PaymentRequest) (domain.Payment, error)
}

// Errors from NotificationVerifier.
var (
	ErrSignatureInvalid = errors.New("notification signature invalid")
	ErrMalformedNotice  = errors.New("notification malformed")
)

// PaymentNotice is a verified notification.
type PaymentNotice struct {
	Provider string
	OrderID  string
	Update   domain.PaymentUpdate
	// CanonicalSHA256 is the hash of what the signature covers: bodies
	// that differ only in whitespace, key order or other spellings of the
	// same signed content share it, so they are stored once.
	CanonicalSHA256 [32]byte
}

// NotificationVerifier checks a gateway's signed notification.
type NotificationVerifier interface {
	// Verify returns ErrSignatureInvalid when the body is not proven signed
	// (the signature is missing or wrong, or the body does not parse), and
	// ErrMalformedNotice when a signed body cannot be understood.
	Verify(body []byte, signature string) (PaymentNotice, error)
}

// Email is a message to a customer. It never contains a key.
// IdempotencyKey names the message (at most 256 printable ASCII
// characters): the same key is sent once.
type Email struct {
	To             string
	Subject        string
	Text           string
	HTML           string
	IdempotencyKey string
}

// Mailer errors. Adapters wrap one of these so a caller can tell a message
// worth retrying from one that will fail again unchanged.
var (
	// ErrMailUnavailable: network, rate limit, 5xx: retry later, with the
	// same IdempotencyKey. A *MailRetryError says how long to wait.
	ErrMailUnavailable = errors.New("mail service temporarily unavailable")
	// ErrMailRejected: the service refused this message or our credentials
	// (bad address, unverified sender, invalid key); retrying it unchanged
	// fails again, an operator has to act.
	ErrMailRejected = errors.New("mail service rejected the message")
)

// MailRetryError is an ErrMailUnavailable carrying the wait the mail
// service asked for (Retry-After).
type MailRetryError struct {
	After  time.Duration
	Reason string
}

func (e *MailRetryError) Error() string {
	return fmt.Sprintf("%s: %s (retry after %s)", ErrMailUnavailable, e.Reason, e.After)
}

// Is makes errors.Is(err, ErrMailUnavailable) true.
func (e *MailRetryError) Is(target error) bool { return target == ErrMailUnavailable }

// Mailer sends email.
type Mailer interface {
	// Send delivers the message. A message whose IdempotencyKey was sent
	// before is not sent again (nil). Errors wrap ErrMailUnavailable (retry
	// later) or ErrMailRejected (final).
	Send(ctx context.Context, m Email) error
}
