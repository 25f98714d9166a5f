package ports

import (
	"context"
	"errors"

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

// Payment gateway errors. Adapters wrap one of these so the application can
// tell an order to keep (and retry) from one to refuse.
var (
	// ErrGatewayUnavailable: network, timeout, rate limit, 5xx, an answer
	// that does not parse, or credentials the gateway refuses: retry later.
	ErrGatewayUnavailable = errors.New("payment gateway temporarily unavailable")
	// ErrPaymentRefused: the gateway refused the payment as asked (an
	// amount below its minimum, an unsupported currency): retrying the same
	// request cannot succeed.
	ErrPaymentRefused = errors.New("payment gateway refused the payment")
)

// PaymentState is a payment as the gateway reports it when asked.
type PaymentState struct {
	OrderID string
	// Status is the gateway's status as sent; Update.Status is its domain
	// value, zero when the status is one keyward does not know.
	Status string
	Update domain.PaymentUpdate
}

// PaymentGateway creates crypto payments and reports on them.
type PaymentGateway interface {
	// CreatePayment returns where and how much to pay: ErrGatewayUnavailable
	// or ErrPaymentRefused (wrapped) when the gateway cannot issue it.
	CreatePayment(ctx context.Context, r PaymentRequest) (domain.Payment, error)
	// GetPayment returns the payment's current state: domain.ErrNotFound
	// for an id the gateway does not know, ErrGatewayUnavailable otherwise.
	GetPayment(ctx context.Context, paymentID string) (PaymentState, error)
	// Health returns nil when the gateway answers.
	Health(ctx context.Context) error
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
	// Status is the payment status as sent. Update.Status is zero when it
	// is one keyward does not know: the notice is recorded and ignored.
	Status string
	Update domain.PaymentUpdate
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
type Email struct {
	To             string
	Subject        string
	Text           string
	HTML           string
	IdempotencyKey string
}

// Mailer sends email.
type Mailer interface {
	// Send delivers the message or returns an error to retry later.
	Send(ctx context.Context, m Email) error
}
