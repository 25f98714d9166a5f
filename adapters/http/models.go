package http

import (
	"time"

	"github.com/keyward/keyward/domain"
)

// MoneyBody is a decimal amount and an ISO currency code.
type MoneyBody struct {
	Amount   string `json:"amount" example:"19.99" doc:"Decimal amount, two fractional digits"`
	Currency string `json:"currency" example:"EUR" doc:"ISO 4217 code"`
}

func moneyBody(m domain.Money) MoneyBody {
	return MoneyBody{Amount: m.String(), Currency: m.Currency().String()}
}

// ProductBody is a catalog entry.
type ProductBody struct {
	SKU      string    `json:"sku" example:"cyberpunk-2077-gog-global"`
	Name     string    `json:"name"`
	Platform string    `json:"platform"`
	Region   string    `json:"region"`
	Price    MoneyBody `json:"price"`
	InStock  bool      `json:"in_stock"`
}

func productBody(p *domain.Product) ProductBody {
	return ProductBody{SKU: p.SKU(), Name: p.Name(), Platform: p.Platform(), Region: p.Region(), Price: moneyBody(p.Price()), InStock: p.InStock()}
}

// PaymentBody tells the customer how to pay.
type PaymentBody struct {
	Provider     string `json:"provider" example:"nowpayments"`
	PaymentID    string `json:"payment_id"`
	PayAddress   string `json:"pay_address"`
	PayAmount    string `json:"pay_amount" example:"21.689150"`
	PayCurrency  string `json:"pay_currency" example:"usdttrc20"`
	PayinExtraID string `json:"payin_extra_id,omitempty" doc:"Memo or destination tag to send with the payment, for coins that need one"`
	Status       string `json:"status" example:"waiting" doc:"The gateway's payment status; \"not_set_up\" while the payment is not created yet"`
	Hint         string `json:"hint,omitempty" doc:"What to do next, while the payment is not set up"`
}

// paymentNotSetUp is the payment status shown before the gateway issued one.
const paymentNotSetUp = "not_set_up"

// ItemBody is an order line.
type ItemBody struct {
	ID        string    `json:"id"`
	SKU       string    `json:"sku"`
	Name      string    `json:"name"`
	Quantity  int       `json:"quantity"`
	UnitPrice MoneyBody `json:"unit_price"`
	Status    string    `json:"status" enum:"pending,purchasing,purchased,sealed,failed"`
}

// TimelineEntry is one fulfilment event.
type TimelineEntry struct {
	Type     string            `json:"type"`
	Status   string            `json:"status"`
	Metadata map[string]string `json:"metadata,omitempty"`
	At       time.Time         `json:"at"`
}

// OrderBody is an order as its customer sees it.
type OrderBody struct {
	ID          string          `json:"id"`
	Status      string          `json:"status" enum:"awaiting_payment_setup,pending_payment,paid,fulfilling,fulfilled,delivered,underpaid,expired,failed,revoked,refunded,needs_review"`
	Email       string          `json:"email"`
	Total       MoneyBody       `json:"total"`
	Items       []ItemBody      `json:"items"`
	Payment     PaymentBody     `json:"payment"`
	Timeline    []TimelineEntry `json:"timeline,omitempty"`
	AccessToken string          `json:"access_token,omitempty" doc:"Returned once, at creation: read the order with it as a bearer token"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// timelineView says how much of the timeline a reader sees.
type timelineView int

const (
	noTimeline       timelineView = iota
	customerTimeline              // what happened and when, without internal details
	adminTimeline                 // everything, supplier errors included
)

func orderBody(o *domain.Order, view timelineView) OrderBody {
	p := o.Payment()
	b := OrderBody{
		ID: o.ID(), Status: o.Status().String(), Email: o.Email().String(), Total: moneyBody(o.Total()),
		Payment: PaymentBody{Provider: p.Provider, PaymentID: p.PaymentID, PayAddress: p.PayAddress,
			PayAmount: p.PayAmount.String(), PayCurrency: p.PayCurrency, PayinExtraID: p.PayinExtraID, Status: p.Status.String()},
		CreatedAt: o.CreatedAt(), UpdatedAt: o.UpdatedAt(),
	}
	if p.PaymentID == "" {
		b.Payment = PaymentBody{Status: paymentNotSetUp}
		if o.Status() == domain.StatusAwaitingPaymentSetup {
			b.Payment.Hint = "The payment is being set up. Poll GET /v1/orders/" + o.ID() +
				" with your access token as a bearer token: the address and amount to pay appear here within minutes."
		}
	}
	for _, it := range o.Items() {
		b.Items = append(b.Items, ItemBody{ID: it.ID(), SKU: it.SKU(), Name: it.Name(), Quantity: it.Quantity(),
			UnitPrice: moneyBody(it.UnitPrice()), Status: it.Status().String()})
	}
	if view != noTimeline {
		for _, e := range o.Timeline() {
			te := TimelineEntry{Type: e.Kind().String(), Status: e.Status().String(), At: e.At()}
			if view == adminTimeline {
				te.Metadata = e.Metadata()
			}
			b.Timeline = append(b.Timeline, te)
		}
	}
	return b
}
