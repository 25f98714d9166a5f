package application

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// The customer emails: for each kind, emails/<kind>.txt.tmpl defines the
// "subject" and the text "body", emails/<kind>.html.tmpl the HTML "body"
// (escaped by html/template); layout.*.tmpl wrap them.
//
//go:embed emails/*.tmpl
var emailFiles embed.FS

// emailKind names an email and its templates.
type emailKind string

const (
	emailOrderReceived     emailKind = "order_received"     // with payment instructions
	emailPaymentConfirmed  emailKind = "payment_confirmed"  // the order is paid
	emailKeysReady         emailKind = "keys_ready"         // the delivery link
	emailFulfilmentDelayed emailKind = "fulfilment_delayed" // fulfilment failed, an operator acts
	emailOrderRevoked      emailKind = "order_revoked"      // keys destroyed
	emailCustomerSignIn    emailKind = "customer_sign_in"   // a sign-in link to the address's orders
	emailClaimRejected     emailKind = "claim_rejected"     // support's answer to a claim it rejected
	emailKeyReplaced       emailKind = "key_replaced"       // a link revealing the replacement of a claimed key
	emailOrderPreordered   emailKind = "order_preordered"   // a pre-ordered item waits for its release date
)

// emailKinds lists every email.
var emailKinds = []emailKind{emailOrderReceived, emailPaymentConfirmed, emailKeysReady, emailFulfilmentDelayed, emailOrderRevoked, emailCustomerSignIn, emailClaimRejected, emailKeyReplaced, emailOrderPreordered}

type emailTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

// templates are parsed once; a template that does not parse is a
// programmer error the tests catch.
var templates = func() map[emailKind]emailTemplates {
	out := map[emailKind]emailTemplates{}
	for _, k := range emailKinds {
		out[k] = emailTemplates{
			text: texttemplate.Must(texttemplate.New(string(k)).Option("missingkey=error").
				ParseFS(emailFiles, "emails/layout.txt.tmpl", "emails/"+string(k)+".txt.tmpl")),
			html: htmltemplate.Must(htmltemplate.New(string(k)).Option("missingkey=error").
				ParseFS(emailFiles, "emails/layout.html.tmpl", "emails/"+string(k)+".html.tmpl")),
		}
	}
	return out
}()

// emailData is all an email can show: display strings and counts, made by
// newEmailData from the order. It has no field that could hold key
// material (no bytes, no domain or port types); the only secret it may
// carry is the delivery link, which is the point of the keys-ready email.
type emailData struct {
	OrderID string
	Items   []emailItem
	Total   string        // "29.90 EUR"
	Payment *emailPayment // order received only
	Link    *emailLink    // keys ready, customer sign-in and key replaced only
	Claim   *emailClaim   // claim rejected and key replaced only
	// Preorders are the items waiting for their release (order preordered only).
	Preorders []emailPreorder
}

// emailPreorder is a pre-ordered item and the day its keys are released.
type emailPreorder struct {
	Name        string
	ReleaseDate string // "2027-02-14"; "" while the supplier names none
}

// emailClaim is a decided claim: the item and support's words.
type emailClaim struct {
	Item    string
	Message string
}

type emailItem struct {
	Name     string
	Quantity int
}

// emailPayment is how to pay.
type emailPayment struct {
	Address  string
	Amount   string
	Currency string
}

// emailLink is a delivery link and when it stops working.
type emailLink struct {
	URL       string
	ExpiresAt string // "2026-11-27 12:15 UTC"
}

// newEmailData takes from o what every email shows.
func newEmailData(o *domain.Order) emailData {
	d := emailData{OrderID: o.ID(), Total: o.Total().String() + " " + o.Total().Currency().String()}
	for _, it := range o.Items() {
		d.Items = append(d.Items, emailItem{Name: it.Name(), Quantity: it.Quantity()})
	}
	return d
}

// withPayment adds o's payment instructions; false when o has none yet.
func (d emailData) withPayment(p domain.Payment) (emailData, bool) {
	if p.PaymentID == "" || p.PayAddress == "" || p.PayAmount.IsZero() {
		return d, false
	}
	d.Payment = &emailPayment{Address: p.PayAddress, Amount: p.PayAmount.String(), Currency: strings.ToUpper(p.PayCurrency)}
	return d, true
}

// withLink adds a delivery link.
func (d emailData) withLink(url string, expires time.Time) emailData {
	d.Link = &emailLink{URL: url, ExpiresAt: expires.UTC().Format("2006-01-02 15:04 MST")}
	return d
}

// withPreorders adds o's items that wait for their release; false when
// none does.
func (d emailData) withPreorders(o *domain.Order) (emailData, bool) {
	for _, it := range o.Items() {
		if it.Status() == domain.ItemAwaitingRelease {
			d.Preorders = append(d.Preorders, emailPreorder{Name: it.Name(), ReleaseDate: domain.FormatDay(it.ReleaseDate())})
		}
	}
	return d, len(d.Preorders) > 0
}

// withClaim adds a decided claim's item and message.
func (d emailData) withClaim(item, message string) emailData {
	d.Claim = &emailClaim{Item: item, Message: message}
	return d
}

// render fills kind's templates with d, for to, under the idempotency key.
// It returns an error when a template fails (missing data).
func (k emailKind) render(to, key string, d emailData) (ports.Email, error) {
	t, ok := templates[k]
	if !ok {
		return ports.Email{}, fmt.Errorf("no email %q", k)
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", d); err != nil {
		return ports.Email{}, fmt.Errorf("render %s subject: %w", k, err)
	}
	if err := t.text.ExecuteTemplate(&text, "email", d); err != nil {
		return ports.Email{}, fmt.Errorf("render %s text: %w", k, err)
	}
	view := struct {
		emailData
		Subject string
	}{d, subject.String()}
	if err := t.html.ExecuteTemplate(&html, "email", view); err != nil {
		return ports.Email{}, fmt.Errorf("render %s html: %w", k, err)
	}
	// A subject is one line, whatever a name held.
	oneLine := strings.Join(strings.Fields(subject.String()), " ")
	return ports.Email{Template: string(k), To: to, Subject: oneLine, Text: text.String(), HTML: html.String(), IdempotencyKey: key}, nil
}
