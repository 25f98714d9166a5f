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
	// ErrBalanceTooLow: the supplier refused the purchase because our
	// account's balance cannot pay for it. It wraps ErrSupplierPermanent:
	// nothing was bought, and a top-up lets the same purchase succeed.
	ErrBalanceTooLow = fmt.Errorf("%w: balance too low", ErrSupplierPermanent)
	// ErrKeysPending: the supplier order exists but keys are not ready;
	// the supplier says when they are (webhook), or a later pass asks.
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
	// Preorder: the keys come after the game's release.
	Preorder bool
	// ReleaseDate is the game's release day as the supplier says it;
	// zero when it says none (or none it could read).
	ReleaseDate time.Time
	// UpdatedAt is when the supplier last changed the product; zero when
	// it does not say.
	UpdatedAt time.Time
}

// ProductQuery asks for one page of the supplier's catalog.
type ProductQuery struct {
	// Cursor is the Next of the previous page; "" for the first.
	Cursor string
	// Limit is the page size; the supplier may cap it (0: its default).
	Limit int
	// UpdatedSince lists only products changed at or after it (zero: all).
	UpdatedSince time.Time
}

// ProductPage is one page of the supplier's catalog.
type ProductPage struct {
	Products []SupplierProduct
	// Next is the cursor of the following page; "" on the last.
	Next string
}

// PurchaseRequest asks the supplier for keys. ExternalID is our item id:
// the supplier refuses to create a second order for it. Price is the most
// we pay for one key (the cost the catalog was priced on).
type PurchaseRequest struct {
	ExternalID string
	ProductID  string
	Qty        int
	Price      domain.Money
}

// PurchaseStatus is where a purchase stands, in keyward's words: each
// supplier adapter maps its own statuses onto these.
type PurchaseStatus string

// Purchase statuses. A status an adapter does not know is PurchasePending:
// the keys are asked for again later, never assumed.
const (
	PurchasePending   PurchaseStatus = "pending"   // bought, keys not all out yet
	PurchaseCompleted PurchaseStatus = "completed" // every key delivered
	PurchaseCanceled  PurchaseStatus = "canceled"  // the supplier cancelled it: no keys will come
	PurchaseRefunded  PurchaseStatus = "refunded"  // the supplier refunded it: no keys will come
)

// Final reports whether no keys will come any more for the purchase.
func (s PurchaseStatus) Final() bool { return s == PurchaseCanceled || s == PurchaseRefunded }

// SupplierOrder is the supplier's view of a purchase.
type SupplierOrder struct {
	ID         string
	ExternalID string
	Status     PurchaseStatus
}

// ReleasePendingError says the purchase is a pre-order whose keys the
// supplier releases on ReleaseDate (Kinguin's ProcessingPreorder, or an
// order it reports as a pre-order with its release date): the item waits
// until then. ReleaseDate is zero when the supplier says it is a
// pre-order but names no date (or none that could be read). It unwraps to
// ErrKeysPending, so a caller that knows nothing of pre-orders waits for
// the keys as for any others.
type ReleasePendingError struct {
	ReleaseDate time.Time
	Detail      string // what the supplier said, for logs (no key material)
}

func (e *ReleasePendingError) Error() string {
	msg := fmt.Sprintf("%v: a pre-order, released on %s", ErrKeysPending, e.ReleaseDate.UTC().Format(domain.DateLayout))
	if e.ReleaseDate.IsZero() {
		msg = fmt.Sprintf("%v: a pre-order, its release date not named", ErrKeysPending)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *ReleasePendingError) Unwrap() error { return ErrKeysPending }

// PreorderOf reports whether err says the purchase is a pre-order (a
// *ReleasePendingError in its chain), with its release date: zero when
// the supplier named none.
func PreorderOf(err error) (time.Time, bool) {
	var rp *ReleasePendingError
	if errors.As(err, &rp) {
		return rp.ReleaseDate, true
	}
	return time.Time{}, false
}

// ReleaseDateOf returns the release date err carries (a
// *ReleasePendingError in its chain with a date); false when it carries none.
func ReleaseDateOf(err error) (time.Time, bool) {
	d, ok := PreorderOf(err)
	return d, ok && !d.IsZero()
}

// SupplierKey is one plaintext key as delivered. It must be sealed at once
// and never logged or stored.
type SupplierKey struct {
	ContentType string // "text/plain", "image/png", ...
	Data        []byte
}

// Supplier buys keys. Errors wrap ErrSupplierTemporary (retry later),
// ErrSupplierPermanent (with a reason an operator can act on),
// domain.ErrNotFound where said, or the context's error.
type Supplier interface {
	// Name identifies the supplier ("sandbox", "kinguin",
	// "codeswholesale"): items record it, webhooks are addressed to it.
	Name() string
	// Products returns one page of the supplier's catalog;
	// ErrSupplierPermanent for a cursor it did not issue.
	Products(ctx context.Context, q ProductQuery) (ProductPage, error)
	// Product returns one product; domain.ErrNotFound when the supplier
	// no longer sells it.
	Product(ctx context.Context, id string) (SupplierProduct, error)
	// PlaceOrder buys; for an ExternalID already ordered it returns the
	// existing order instead of buying again.
	PlaceOrder(ctx context.Context, r PurchaseRequest) (SupplierOrder, error)
	// FindOrder looks an order up by our external id; domain.ErrNotFound.
	FindOrder(ctx context.Context, externalID string) (SupplierOrder, error)
	// Order returns an order by the supplier's id; domain.ErrNotFound.
	Order(ctx context.Context, supplierOrderID string) (SupplierOrder, error)
	// Keys returns the order's keys; ErrKeysPending while not all are ready.
	Keys(ctx context.Context, supplierOrderID string) ([]SupplierKey, error)
	// Health returns nil when the supplier answers (and, for a real
	// supplier, our account's balance can be read).
	Health(ctx context.Context) error
}

// SupplierBalance is offered by a supplier whose account balance can be
// read (Kinguin's and CodesWholesale's, in EUR); the balance gauge
// operators alert on reads it.
type SupplierBalance interface {
	// Balance returns the account's balance; an error when it cannot be
	// read now.
	Balance(ctx context.Context) (float64, error)
}

// SupplierEventKind is what a supplier webhook is about, in keyward's
// words: each adapter maps its own event names onto these.
type SupplierEventKind string

// Supplier event kinds. An event of no kind keyward handles has the zero
// kind: it is acknowledged and ignored.
const (
	// SupplierEventPurchase: a purchase changed (keys out, cancelled ...).
	SupplierEventPurchase SupplierEventKind = "purchase"
	// SupplierEventProduct: products changed (cost, stock, withdrawn).
	SupplierEventProduct SupplierEventKind = "product"
)

// SupplierEvent is an authenticated supplier webhook. Fields an event does
// not carry are empty. An event is a hint: what it says of a purchase or a
// product is read again from the supplier before anything is done.
type SupplierEvent struct {
	Kind SupplierEventKind
	// Name is the event as the supplier names it, for logs.
	Name            string
	SupplierOrderID string
	ExternalID      string
	// Status is the purchase's status the event reports; "" when it says
	// none.
	Status     PurchaseStatus
	ProductIDs []string
	// UpdatedAt is when the supplier changed the entity: an event older
	// than what is known is stale. Zero when the supplier does not say
	// (such an event is never judged stale).
	UpdatedAt time.Time
}

// SupplierWebhook is a supplier's webhook as received: the adapter finds
// its credential and its event in the headers or the body.
type SupplierWebhook struct {
	// Header returns a request header's first value ("" when absent).
	Header func(name string) string
	Body   []byte
}

// SupplierEventVerifier authenticates and reads one supplier's webhooks.
type SupplierEventVerifier interface {
	// Verify returns ErrSignatureInvalid when the credential is missing or
	// wrong (checked before the body is used), and ErrMalformedNotice when
	// the body of a known event cannot be understood.
	Verify(w SupplierWebhook) (SupplierEvent, error)
}

// SupplierEventMarks remembers the newest change time seen per supplier
// entity (an order, a product), so that webhooks delivered out of order are
// recognised.
type SupplierEventMarks interface {
	// Advance records at for entity unless a later time is recorded. It
	// reports false for a stale notice (older than the recorded time); a
	// notice as new as the recorded one (a redelivery) reports true.
	Advance(ctx context.Context, entity string, at time.Time) (bool, error)
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
// IdempotencyKey names the message (at most 256 printable ASCII
// characters): the same key is sent once.
type Email struct {
	// Template names the email's template (keys_ready, order_received …),
	// for the audit trail.
	Template       string
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
	// Send delivers the message and returns its receipt. A message whose
	// IdempotencyKey was sent before is not sent again (Duplicate). Errors
	// wrap ErrMailUnavailable (retry later) or ErrMailRejected (final).
	Send(ctx context.Context, m Email) (Receipt, error)
}

// AuditMarkingMailer is a Mailer that remembers, beside each message it
// sent, whether the message's audit record was written (the SMTP mailer's
// sent-mail log). A record written with the mark (MarkAudited, in the
// record's unit of work) is written once; a duplicate whose mark is
// missing (the process died after the send, before the record committed)
// has its record written then.
type AuditMarkingMailer interface {
	Mailer
	// MarkAudited marks the message sent under idempotencyKey audited,
	// in ctx's unit of work, and reports whether this call marked it
	// (false: its record was written before).
	MarkAudited(ctx context.Context, idempotencyKey string) (bool, error)
}

// MarkAudited marks the message sent under idempotencyKey audited when m
// keeps marks (AuditMarkingMailer), and otherwise reports this record as
// the first: a wrapper around a mailer forwards its MarkAudited through
// it, so that the marks of the mailer inside are never lost to a
// decorator.
func MarkAudited(ctx context.Context, m Mailer, idempotencyKey string) (bool, error) {
	if mm, ok := m.(AuditMarkingMailer); ok {
		return mm.MarkAudited(ctx, idempotencyKey)
	}
	return true, nil
}

// Receipt is what a mailer did with a message: the id the provider gave it
// (a Message-ID, an API id, a file name), or Duplicate when it had been
// sent before and was not sent again.
type Receipt struct {
	ProviderID string
	Duplicate  bool
	// Unaudited is set with Duplicate by an AuditMarkingMailer when the
	// message's audit record was never marked written: the caller writes
	// it now.
	Unaudited bool
}
