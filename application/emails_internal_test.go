package application

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

func sampleEmailData() emailData {
	return emailData{
		OrderID:   "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Items:     []emailItem{{Name: `Hollow Lantern <script>alert("x")</script> & Söhne`, Quantity: 2}, {Name: "Star Rover", Quantity: 1}},
		Total:     "59.70 EUR",
		Payment:   &emailPayment{Address: "bc1qexampleaddress0000000000000000", Amount: "0.00123456", Currency: "BTC"},
		Link:      &emailLink{URL: "https://keys.example/deliver/Qm9vbS1saW5rLXRva2VuLTI1Ni1iaXQtcmFuZG9tLXg", ExpiresAt: "2026-11-27 12:15 UTC"},
		Claim:     &emailClaim{Item: "Star Rover", Message: "The key was redeemed on 12 May.\nSee <the log>."},
		Preorders: []emailPreorder{{Name: `Hollow Lantern <script>alert("x")</script> & Söhne`, ReleaseDate: "2027-02-14"}},
	}
}

// TestOrderPreorderedEmail: the customer is told each pre-order's release
// date; the name is text in the text part and escaped in HTML.
func TestOrderPreorderedEmail(t *testing.T) {
	t.Parallel()
	d := sampleEmailData()
	m, err := emailOrderPreordered.render("buyer@example.com", "k", d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Your pre-order: keys on release day" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, d.Preorders[0].Name+" is a pre-order: it is released on 2027-02-14.") {
		t.Errorf("text:\n%s", m.Text)
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "<strong>Hollow Lantern &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Söhne</strong> is a pre-order: it is released on <strong>2027-02-14</strong>") {
		t.Errorf("html:\n%s", m.HTML)
	}
}

// TestClaimRejectedEmail: the rejection carries support's words as text,
// escaped in HTML.
func TestClaimRejectedEmail(t *testing.T) {
	t.Parallel()
	m, err := emailClaimRejected.render("buyer@example.com", "claim-rejected/c1", sampleEmailData())
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "About the key you reported" || !strings.Contains(m.Text, "(Star Rover) and cannot replace it:\n\nThe key was redeemed on 12 May.\nSee <the log>.") {
		t.Errorf("text:\n%s", m.Text)
	}
	if strings.Contains(m.HTML, "<the log>") || !strings.Contains(m.HTML, "See &lt;the log&gt;.") {
		t.Errorf("html:\n%s", m.HTML)
	}
}

func TestEveryEmailRenders(t *testing.T) {
	t.Parallel()
	d := sampleEmailData()
	for _, k := range emailKinds {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			m, err := k.render("buyer@example.com", "key/"+string(k), d)
			if err != nil {
				t.Fatal(err)
			}
			if m.To != "buyer@example.com" || m.IdempotencyKey != "key/"+string(k) {
				t.Errorf("to %q, key %q", m.To, m.IdempotencyKey)
			}
			if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") {
				t.Errorf("subject %q", m.Subject)
			}
			for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				if !strings.Contains(body, d.OrderID) {
					t.Errorf("%s does not name the order:\n%s", name, body)
				}
				if !strings.Contains(body, "Star Rover") {
					t.Errorf("%s does not list the items:\n%s", name, body)
				}
			}
			if !strings.HasPrefix(m.HTML, "<!doctype html>") || !strings.Contains(m.HTML, "<title>"+m.Subject+"</title>") {
				t.Errorf("html is not a document titled by the subject:\n%s", m.HTML)
			}
			if !strings.Contains(m.Text, `Hollow Lantern <script>alert("x")</script> & Söhne`) {
				t.Errorf("text changed the name:\n%s", m.Text)
			}
			if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "Hollow Lantern &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Söhne") {
				t.Errorf("html does not escape the name:\n%s", m.HTML)
			}
		})
	}
}

func TestKeysReadyEmail(t *testing.T) {
	t.Parallel()
	d := sampleEmailData()
	d.Payment = nil
	m, err := emailKeysReady.render("buyer@example.com", "delivery-link/l1", d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Your keys are ready" {
		t.Errorf("subject %q", m.Subject)
	}
	wantText := "Your payment is in and your keyward order " + d.OrderID + " is ready.\n\n" +
		"2 × " + d.Items[0].Name + "\n1 × Star Rover\n\n" +
		"Open this link to reveal your keys (valid until 2026-11-27 12:15 UTC):\n" + d.Link.URL + "\n\n" +
		"The link works a limited number of times. Do not forward this email.\n--\nkeyward · order " + d.OrderID + "\n"
	if m.Text != wantText {
		t.Errorf("text\n%q\nwant\n%q", m.Text, wantText)
	}
	if !strings.Contains(m.HTML, `<a href="`+d.Link.URL+`">Reveal your keys</a> (valid until 2026-11-27 12:15 UTC)`) {
		t.Errorf("html has no link:\n%s", m.HTML)
	}
}

func TestOrderReceivedShowsHowToPay(t *testing.T) {
	t.Parallel()
	d := sampleEmailData()
	m, err := emailOrderReceived.render("buyer@example.com", "k", d)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{"0.00123456 BTC", d.Payment.Address, "59.70 EUR"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, body)
			}
		}
	}
}

// Missing data fails the render instead of sending an email with holes.
func TestEmailsRefuseMissingData(t *testing.T) {
	t.Parallel()
	d := sampleEmailData()
	d.Payment, d.Link = nil, nil
	for _, k := range []emailKind{emailOrderReceived, emailKeysReady} {
		if _, err := k.render("buyer@example.com", "k", d); err == nil {
			t.Errorf("%s rendered without its data", k)
		}
	}
	if _, err := emailKind("nope").render("buyer@example.com", "k", d); err == nil {
		t.Error("an unknown email rendered")
	}
}

// emailData can only hold strings and counts: no bytes, interfaces or
// domain and port types through which a key (ports.SupplierKey, a sealed
// key, a data key) could reach an email.
func TestEmailDataCannotHoldKeys(t *testing.T) {
	t.Parallel()
	var walk func(reflect.Type, string)
	walk = func(ty reflect.Type, path string) {
		if p := ty.PkgPath(); p != "" && p != "github.com/keyward/keyward/application" {
			t.Errorf("%s is a %s", path, ty)
		}
		switch ty.Kind() {
		case reflect.String, reflect.Int:
		case reflect.Pointer, reflect.Slice:
			if ty.Elem().Kind() == reflect.Uint8 {
				t.Errorf("%s holds bytes", path)
				return
			}
			walk(ty.Elem(), path+"[]")
		case reflect.Struct:
			for i := range ty.NumField() {
				walk(ty.Field(i).Type, path+"."+ty.Field(i).Name)
			}
		default:
			t.Errorf("%s is a %s", path, ty)
		}
	}
	walk(reflect.TypeFor[emailData](), "emailData")
}

func TestNotificationKey(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	key := notificationKey(emailPaymentConfirmed, domainEvent("order.paid", "o1", at))
	if key != "payment_confirmed/o1/order.paid/1795780800123456789" {
		t.Errorf("key %q", key)
	}
	if len(key) > 256 || strings.ContainsFunc(key, func(r rune) bool { return r < ' ' || r > '~' }) {
		t.Errorf("key %q is not a valid idempotency key", key)
	}
	if other := notificationKey(emailPaymentConfirmed, domainEvent("order.paid", "o1", at.Add(1))); other == key {
		t.Error("a later event has the same key")
	}
}

// TestPreorderNotificationKey: the pre-order email's key names the item
// and its release date, so two dates given at the same moment are two
// emails; the same event is one.
func TestPreorderNotificationKey(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)
	ev := func(item string, day time.Time) domain.OrderEvent {
		e := domainEvent(domain.EventOrderPreordered, "o1", at)
		e.Reason = domain.PreorderReason(item, day)
		return e
	}
	first, moved := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC), time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC)
	key := notificationKey(emailOrderPreordered, ev("o1-a", first))
	if key != "order_preordered/o1/o1-a/2027-02-14/1795780800123456789" {
		t.Errorf("key %q", key)
	}
	if again := notificationKey(emailOrderPreordered, ev("o1-a", first)); again != key {
		t.Errorf("the same event: %q, then %q", key, again)
	}
	for _, other := range []domain.OrderEvent{ev("o1-a", moved), ev("o1-b", first)} {
		if notificationKey(emailOrderPreordered, other) == key {
			t.Errorf("%q has the key of %q", other.Reason, ev("o1-a", first).Reason)
		}
	}
}

func domainEvent(name, orderID string, at time.Time) domain.OrderEvent {
	return domain.OrderEvent{Name: name, OrderID: orderID, At: at}
}
