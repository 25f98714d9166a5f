package nowpayments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Provider is the name notifications are recorded under.
const Provider = "nowpayments"

// Verifier checks NOWPayments IPNs and turns them into payment updates. It
// implements ports.NotificationVerifier.
type Verifier struct {
	secret string
}

// NewVerifier returns a verifier for the dashboard's IPN secret.
func NewVerifier(secret string) *Verifier { return &Verifier{secret: secret} }

// ipnBody holds the IPN fields keyward acts on. Ids and amounts arrive as
// numbers or strings depending on the endpoint, so they are read as
// json.Number-or-string and parsed exactly (never through float64).
type ipnBody struct {
	PaymentID     flexString `json:"payment_id"`
	PaymentStatus string     `json:"payment_status"`
	OrderID       string     `json:"order_id"`
	PriceAmount   flexString `json:"price_amount"`
	PriceCurrency string     `json:"price_currency"`
	PayAmount     flexString `json:"pay_amount"`
	ActuallyPaid  flexString `json:"actually_paid"`
	PayCurrency   string     `json:"pay_currency"`
}

// Verify returns ports.ErrSignatureInvalid when the signature is missing or
// wrong, ports.ErrMalformedNotice when a verified body lacks the fields
// keyward needs or carries an unknown status.
func (v *Verifier) Verify(body []byte, signature string) (ports.PaymentNotice, error) {
	if err := Verify(v.secret, body, signature); err != nil {
		if errors.Is(err, ErrMalformedBody) {
			return ports.PaymentNotice{}, fmt.Errorf("%w: %v", ports.ErrMalformedNotice, err)
		}
		return ports.PaymentNotice{}, fmt.Errorf("%w: %v", ports.ErrSignatureInvalid, err)
	}
	var b ipnBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&b); err != nil {
		return ports.PaymentNotice{}, fmt.Errorf("%w: %v", ports.ErrMalformedNotice, err)
	}
	status, err := domain.ParsePaymentStatus(b.PaymentStatus)
	if err != nil {
		return ports.PaymentNotice{}, fmt.Errorf("%w: %v", ports.ErrMalformedNotice, err)
	}
	if b.PaymentID == "" || b.OrderID == "" {
		return ports.PaymentNotice{}, fmt.Errorf("%w: payment_id and order_id are required", ports.ErrMalformedNotice)
	}
	u := domain.PaymentUpdate{PaymentID: string(b.PaymentID), Status: status, PriceCurrency: strings.ToUpper(b.PriceCurrency), PayCurrency: strings.ToLower(b.PayCurrency)}
	for _, f := range []struct {
		name string
		in   flexString
		out  *decimal.Decimal
	}{{"price_amount", b.PriceAmount, &u.PriceAmount}, {"pay_amount", b.PayAmount, &u.PayAmount}, {"actually_paid", b.ActuallyPaid, &u.ActuallyPaid}} {
		if f.in == "" {
			continue
		}
		d, err := decimal.NewFromString(string(f.in))
		if err != nil {
			return ports.PaymentNotice{}, fmt.Errorf("%w: %s %q is not a number", ports.ErrMalformedNotice, f.name, f.in)
		}
		*f.out = d
	}
	return ports.PaymentNotice{Provider: Provider, OrderID: b.OrderID, Update: u}, nil
}

// flexString accepts a JSON string, number or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}
