package sandbox

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"
)

// ipnBody is a NOWPayments payment IPN, fields in the order NOWPayments
// sends them. Amounts are json.Number written from decimal strings, so a
// reader gets back exactly the decimals that went in.
type ipnBody struct {
	PaymentID          json.Number `json:"payment_id"`
	ParentPaymentID    *int64      `json:"parent_payment_id"`
	InvoiceID          *int64      `json:"invoice_id"`
	PaymentStatus      string      `json:"payment_status"`
	PayAddress         string      `json:"pay_address"`
	PayinExtraID       *string     `json:"payin_extra_id"`
	PriceAmount        json.Number `json:"price_amount"`
	PriceCurrency      string      `json:"price_currency"`
	PayAmount          json.Number `json:"pay_amount"`
	ActuallyPaid       json.Number `json:"actually_paid"`
	ActuallyPaidAtFiat json.Number `json:"actually_paid_at_fiat"`
	PayCurrency        string      `json:"pay_currency"`
	OrderID            string      `json:"order_id"`
	OrderDescription   string      `json:"order_description"`
	PurchaseID         string      `json:"purchase_id"`
	OutcomeAmount      json.Number `json:"outcome_amount"`
	OutcomeCurrency    string      `json:"outcome_currency"`
	PaymentExtraIDs    []string    `json:"payment_extra_ids"`
	CreatedAt          string      `json:"created_at"`
	UpdatedAt          string      `json:"updated_at"`
}

// outcomeShare is what reaches the merchant after NOWPayments' 0.5% fee.
var outcomeShare = decimal.RequireFromString("0.995")

// IPNBody returns the JSON body NOWPayments would post when p reaches
// status with actuallyPaid received, at now. It does not sign it. It panics
// when p.PaymentID is not a number, which Gateway never issues.
func IPNBody(p SandboxPayment, status string, actuallyPaid decimal.Decimal, now time.Time) []byte {
	atFiat := decimal.Zero
	if p.PayAmount.IsPositive() {
		atFiat = actuallyPaid.Mul(p.PriceAmount).Div(p.PayAmount).Round(2)
	}
	created := p.CreatedAt
	if created.IsZero() {
		created = now
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // NOWPayments writes "&" and "<" as they are
	err := enc.Encode(ipnBody{
		PaymentID:          json.Number(p.PaymentID),
		PaymentStatus:      status,
		PayAddress:         p.PayAddress,
		PriceAmount:        number(p.PriceAmount),
		PriceCurrency:      p.PriceCurrency,
		PayAmount:          number(p.PayAmount),
		ActuallyPaid:       number(actuallyPaid),
		ActuallyPaidAtFiat: number(atFiat),
		PayCurrency:        p.PayCurrency,
		OrderID:            p.OrderID,
		OrderDescription:   p.OrderDescription,
		PurchaseID:         p.PurchaseID,
		OutcomeAmount:      number(actuallyPaid.Mul(outcomeShare).Round(6)),
		OutcomeCurrency:    p.PayCurrency,
		CreatedAt:          ipnTime(created),
		UpdatedAt:          ipnTime(now),
	})
	if err != nil {
		panic("sandbox: marshal IPN: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func number(d decimal.Decimal) json.Number { return json.Number(d.String()) }

func ipnTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
