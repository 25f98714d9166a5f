package kinguin_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/ports"
)

func TestWebhookVerifierReadsTheReferenceEvents(t *testing.T) {
	t.Parallel()
	v := kinguin.NewWebhookVerifier("s3cret-of-the-store")
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	for _, c := range []struct {
		event, file string
		want        ports.SupplierEvent
	}{
		{"order.status", "kinguin-webhook-order-status.json", ports.SupplierEvent{Kind: ports.SupplierEventPurchase, Name: "order.status", SupplierOrderID: "PX7Q2LMN4RA",
			ExternalID: "ord_01HZX3K9Q2", Status: ports.PurchaseCompleted, UpdatedAt: at("2025-03-14T10:43:12.090+00:00")}},
		{"order.complete", "kinguin-webhook-order-complete.json", ports.SupplierEvent{Kind: ports.SupplierEventPurchase, Name: "order.complete", SupplierOrderID: "PX7Q2LMN4RA",
			ExternalID: "ord_01HZX3K9Q2", Status: ports.PurchaseCompleted, UpdatedAt: at("2025-03-14T10:43:12.088+00:00")}},
		{"product.update", "kinguin-webhook-product-update.json", ports.SupplierEvent{Kind: ports.SupplierEventProduct, Name: "product.update",
			ProductIDs: []string{"5c9b6f1a2539a4e8f1800a11"}, UpdatedAt: at("2025-03-14T10:42:01.517+00:00")}},
		{"order.refunded.someday", "kinguin-webhook-order-status.json", ports.SupplierEvent{Name: "order.refunded.someday"}},
	} {
		got, err := v.Verify(webhook(c.event, "s3cret-of-the-store", kinguintest.Fixture(c.file)))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, %v\nwant %+v", c.event, got, err, c.want)
		}
	}
}

func TestWebhookVerifierRefuses(t *testing.T) {
	t.Parallel()
	body := kinguintest.Fixture("kinguin-webhook-order-status.json")
	for name, c := range map[string]struct {
		secret, credential string
		body               []byte
		want               error
	}{
		"wrong secret":           {"s3cret", "s3cre", body, ports.ErrSignatureInvalid},
		"no secret sent":         {"s3cret", "", body, ports.ErrSignatureInvalid},
		"none configured":        {"", "", body, ports.ErrSignatureInvalid},
		"not JSON":               {"s3cret", "s3cret", []byte("orderId=1"), ports.ErrMalformedNotice},
		"no ids":                 {"s3cret", "s3cret", []byte(`{"status":"completed","updatedAt":"2025-03-14T10:43:12.090+00:00"}`), ports.ErrMalformedNotice},
		"no updatedAt":           {"s3cret", "s3cret", []byte(`{"orderId":"PX","orderExternalId":"x","status":"completed"}`), ports.ErrMalformedNotice},
		"wrong secret, not JSON": {"s3cret", "x", []byte("{"), ports.ErrSignatureInvalid},
		"NUL in orderId":         {"s3cret", "s3cret", []byte(`{"orderId":"PX\u0000","status":"completed","updatedAt":"2025-03-14T10:43:12Z"}`), ports.ErrMalformedNotice},
		"NUL in orderExternalId": {"s3cret", "s3cret", []byte(`{"orderExternalId":"\u0000x","status":"completed","updatedAt":"2025-03-14T10:43:12Z"}`), ports.ErrMalformedNotice},
		"escape in status":       {"s3cret", "s3cret", []byte(`{"orderId":"PX","status":"completed\u001b","updatedAt":"2025-03-14T10:43:12Z"}`), ports.ErrMalformedNotice},
		"newline in status":      {"s3cret", "s3cret", []byte(`{"orderId":"PX","status":"com\npleted","updatedAt":"2025-03-14T10:43:12Z"}`), ports.ErrMalformedNotice},
		"id too long":            {"s3cret", "s3cret", []byte(`{"orderId":"` + strings.Repeat("P", 200) + `","status":"completed","updatedAt":"2025-03-14T10:43:12Z"}`), ports.ErrMalformedNotice},
	} {
		_, err := kinguin.NewWebhookVerifier(c.secret).Verify(webhook("order.status", c.credential, c.body))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// A product.update's id is read too: a NUL there is malformed as well.
	for name, id := range map[string]string{"NUL in productId": `5c9b\u00006f1a`, "escape in productId": `5c9b\u001b6f1a`} {
		b := []byte(`{"kinguinId":1949,"productId":"` + id + `","updatedAt":"2025-03-14T10:42:01.517+00:00"}`)
		if _, err := kinguin.NewWebhookVerifier("s3cret").Verify(webhook("product.update", "s3cret", b)); !errors.Is(err, ports.ErrMalformedNotice) {
			t.Errorf("%s: %v, want %v", name, err, ports.ErrMalformedNotice)
		}
	}
}

// webhook is a Kinguin webhook as received.
func webhook(event, secret string, body []byte) ports.SupplierWebhook {
	h := http.Header{}
	h.Set(kinguin.EventNameHeader, event)
	if secret != "" {
		h.Set(kinguin.EventSecretHeader, secret)
	}
	return ports.SupplierWebhook{Header: h.Get, Body: body}
}
