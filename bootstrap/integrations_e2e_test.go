package bootstrap_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"regexp"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/nowpayments/nowpaymentstest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/s3/s3test"
	"github.com/keyward/keyward/bootstrap"
)

var orderDescription = regexp.MustCompile(`"order_description": "[^"]*"`)

// TestRealIntegrationsEndToEnd runs keyward on Postgres with every real
// adapter (Kinguin, NOWPayments, SMTP, S3) pointed at servers that speak
// their documented contracts: catalog imported → order → NOWPayments payment
// created with our callback URL → a pretty-printed IPN with a nested fee
// object and non-ASCII text, signed the documented way, accepted (the same
// body altered by one byte refused) → one Kinguin order per item with our
// external id → keys arrive late (processing, then complete via webhook) →
// a text and an image key sealed into the bucket → one keys-ready email over
// SMTP → the reveal returns exactly what the supplier issued.
func TestRealIntegrationsEndToEnd(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	kin := kinguintest.New(t, 3)
	kin.HoldKeys(true)
	kin.ImageKeys(true)
	const npKey = "np-integration-api-key-0123456789"
	np := nowpaymentstest.New(t, npKey)
	bucket := s3test.StartHTTP(t)
	inbox := make(chan []byte, 16)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpd := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &smtpSession{inbox: inbox}, nil }))
	smtpd.Domain = "mx.test"
	served := make(chan struct{})
	go func() { defer close(served); _ = smtpd.Serve(l) }()
	t.Cleanup(func() { _ = smtpd.Close(); _ = l.Close(); <-served })

	h := startKinguin(t, kin, func(c *bootstrap.Config) {
		withPostgres(url)(c)
		withS3(bucket)(c)
		c.Payments = bootstrap.PaymentsConfig{PaymentsGateway: "nowpayments", NOWPaymentsAPIURL: np.URL, NOWPaymentsAPIKey: npKey, NOWPaymentsPayCurrency: "btc"}
		c.Mail.Mailer, c.Mail.SMTPURL, c.MailFrom = "smtp", "smtp://"+l.Addr().String(), "Clés Shop <keys@shop.example>"
	})
	h.waitCatalog(4, 30*time.Second)

	const email = "integrations@example.com"
	o := h.placeOrder(email, line(kinguintest.ProductID, 2))
	payments := np.Payments(o.ID)
	if len(payments) != 1 || payments[0].CallbackURL != h.base+"/v1/webhooks/nowpayments" || o.Payment.PaymentID != payments[0].ID {
		t.Fatalf("NOWPayments payments %+v for order %+v", payments, o)
	}
	pay := payments[0]
	body := np.IPN(pay.ID, "finished", pay.PayAmount, "")
	body = orderDescription.ReplaceAll(body, []byte(`"order_description": "Café «Déjà vu» key & gift <x2> 🎮 — R/W"`))
	if !bytes.Contains(body, []byte("\n  \"fee\": {")) || !bytes.Contains(body, []byte("🎮")) {
		t.Fatalf("test premise: not a pretty-printed IPN with a fee object and non-ASCII text:\n%s", body)
	}
	sig, err := nowpayments.Sign(h.cfg.IPNSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Replace(body, []byte("Déjà"), []byte("Dejà"), 1)
	if code, raw := h.postIPN(altered, sig); code != http.StatusUnauthorized {
		t.Fatalf("a body altered by one byte: %d %s", code, raw)
	}
	if code, raw := h.postIPN(body, sig); code != http.StatusOK {
		t.Fatalf("signed IPN: %d %s", code, raw)
	}

	got := h.waitItem(o, "purchased", 30*time.Second)
	itemID := got.Items[0].ID
	supplierOrder := kin.OrderIDOf(itemID)
	if supplierOrder == "" || kin.Purchases(itemID) != 1 || got.Status != "fulfilling" {
		t.Fatalf("Kinguin order %q for item %s (%d purchases), order %s", supplierOrder, itemID, kin.Purchases(itemID), got.Status)
	}
	kin.Deliver(supplierOrder, 0)
	if code, raw := h.kinguinWebhook("order.complete", testKinguinSecret, string(kinguinComplete(t, supplierOrder, itemID, time.Now().UTC()))); code != http.StatusNoContent {
		t.Fatalf("order.complete: %d %s", code, raw)
	}
	h.waitStatus(o, "delivered", 30*time.Second)
	if n := kin.TotalPurchases(); n != 1 {
		t.Fatalf("%d Kinguin orders for one item, want 1", n)
	}
	if objs := bucket.Objects(t, "orders/"+o.ID+"/"); len(objs) != 2 {
		t.Fatalf("%d sealed keys in the bucket, want 2", len(objs))
	}

	token := keysReadyToken(t, inbox)
	var rv struct {
		Items []struct {
			Keys []struct {
				Value       string `json:"value"`
				ContentType string `json:"content_type"`
				DataBase64  string `json:"data_base64"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != http.StatusOK {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	issued := kin.IssuedKeys(itemID)
	if len(rv.Items) != 1 || len(rv.Items[0].Keys) != 2 || len(issued) != 2 {
		t.Fatalf("revealed %+v, issued %d keys", rv, len(issued))
	}
	text, image := rv.Items[0].Keys[0], rv.Items[0].Keys[1]
	img, err := base64.StdEncoding.DecodeString(image.DataBase64)
	if text.Value != string(issued[0].Data) || image.ContentType != issued[1].ContentType || err != nil || !bytes.Equal(img, issued[1].Data) {
		t.Fatal("the revealed keys differ from the ones Kinguin issued")
	}
}

var deliverToken = regexp.MustCompile(`/deliver/([A-Za-z0-9_-]+)`)

// keysReadyToken reads the SMTP server's mail until the keys-ready email
// arrives and returns its link token.
func keysReadyToken(t *testing.T, inbox <-chan []byte) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case raw := <-inbox:
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			if subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subject != "Your keys are ready" {
				continue
			}
			b, _ := io.ReadAll(msg.Body)
			plain, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
			m := deliverToken.FindSubmatch(plain)
			if m == nil {
				t.Fatalf("keys-ready email without a link:\n%s", b)
			}
			return string(m[1])
		case <-deadline:
			t.Fatal("no keys-ready email")
		}
	}
}
