package kinguin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/ports"
)

// Webhook headers Kinguin sends.
const (
	EventNameHeader   = "X-Event-Name"
	EventSecretHeader = "X-Event-Secret"
)

// WebhookVerifier authenticates Kinguin webhooks by the store's shared
// secret, which Kinguin sends as it is in X-Event-Secret (no HMAC).
type WebhookVerifier struct {
	secret [32]byte
	set    bool
}

var _ ports.SupplierEventVerifier = WebhookVerifier{}

// NewWebhookVerifier returns a verifier for secret; with an empty secret
// it refuses every webhook.
func NewWebhookVerifier(secret string) WebhookVerifier {
	secret = strings.TrimSpace(secret)
	return WebhookVerifier{secret: sha256.Sum256([]byte(secret)), set: secret != ""}
}

type webhookBody struct {
	OrderID         string `json:"orderId"`
	OrderExternalID string `json:"orderExternalId"`
	Status          string `json:"status"`
	ProductID       string `json:"productId"`
	UpdatedAt       string `json:"updatedAt"`
}

// Kinguin's webhook event names.
const (
	eventOrderStatus   = "order.status"
	eventOrderComplete = "order.complete" // deprecated: read as order.status completed
	eventProductUpdate = "product.update"
)

// Verify compares X-Event-Secret with the secret in constant time
// (hashing both first, so that their lengths leak nothing), then reads the
// body of the X-Event-Name event: order.status and order.complete are
// purchase events, product.update a product event. It returns
// ports.ErrSignatureInvalid for a wrong or missing secret,
// ports.ErrMalformedNotice for a known event whose body lacks its ids or
// updatedAt, and an event of no kind for an event keyward does not handle.
func (v WebhookVerifier) Verify(w ports.SupplierWebhook) (ports.SupplierEvent, error) {
	header := w.Header
	if header == nil {
		header = func(string) string { return "" }
	}
	got := sha256.Sum256([]byte(header(EventSecretHeader)))
	if subtle.ConstantTimeCompare(got[:], v.secret[:]) != 1 || !v.set {
		return ports.SupplierEvent{}, fmt.Errorf("kinguin webhook: %w: wrong or missing %s", ports.ErrSignatureInvalid, EventSecretHeader)
	}
	name := strings.TrimSpace(header(EventNameHeader))
	ev := ports.SupplierEvent{Name: name}
	switch name {
	case eventOrderStatus, eventOrderComplete:
		ev.Kind = ports.SupplierEventPurchase
	case eventProductUpdate:
		ev.Kind = ports.SupplierEventProduct
	default:
		return ev, nil
	}
	var b webhookBody
	if err := json.Unmarshal(w.Body, &b); err != nil {
		return ports.SupplierEvent{}, fmt.Errorf("kinguin webhook %s: %w: %v", name, ports.ErrMalformedNotice, err)
	}
	at, err := time.Parse(time.RFC3339, b.UpdatedAt)
	if err != nil {
		return ports.SupplierEvent{}, fmt.Errorf("kinguin webhook %s: %w: updatedAt %q", name, ports.ErrMalformedNotice, b.UpdatedAt)
	}
	ev.UpdatedAt = at.UTC()
	for _, f := range []struct{ name, value string }{
		{"orderId", b.OrderID}, {"orderExternalId", b.OrderExternalID}, {"status", b.Status}, {"productId", b.ProductID},
	} {
		if err := checkField(f.name, f.value); err != nil {
			return ports.SupplierEvent{}, fmt.Errorf("kinguin webhook %s: %w: %v", name, ports.ErrMalformedNotice, err)
		}
	}
	if ev.Kind == ports.SupplierEventProduct {
		if b.ProductID == "" {
			return ports.SupplierEvent{}, fmt.Errorf("kinguin webhook %s: %w: no productId", name, ports.ErrMalformedNotice)
		}
		ev.ProductIDs = []string{b.ProductID}
		return ev, nil
	}
	if b.OrderID == "" && b.OrderExternalID == "" {
		return ports.SupplierEvent{}, fmt.Errorf("kinguin webhook %s: %w: neither orderId nor orderExternalId", name, ports.ErrMalformedNotice)
	}
	ev.SupplierOrderID, ev.ExternalID, ev.Status = b.OrderID, b.OrderExternalID, purchaseStatus(b.Status)
	if name == eventOrderComplete {
		ev.Status = ports.PurchaseCompleted
	}
	return ev, nil
}

// maxFieldLen bounds the ids and status keyward takes from a webhook.
const maxFieldLen = 128

// checkField refuses a webhook value keyward could not store or log as it
// is: a control character (a NUL is refused by Postgres text, which made
// the webhook fail as unavailable and Kinguin resend it for ever), invalid
// UTF-8, or more than maxFieldLen bytes. The error never repeats the value.
func checkField(name, v string) error {
	switch {
	case len(v) > maxFieldLen:
		return fmt.Errorf("%s is longer than %d bytes", name, maxFieldLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", name)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%s holds a control character", name)
	}
	return nil
}
