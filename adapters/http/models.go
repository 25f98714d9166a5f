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
	SKU      string    `json:"sku" example:"cyberpunk-2077-gog-global" doc:"The product's stable identifier: use it in URLs and order lines"`
	Name     string    `json:"name" example:"Cyberpunk 2077" doc:"Display name, as the supplier lists it"`
	Platform string    `json:"platform" example:"GOG" doc:"Where the key is redeemed (Steam, GOG, Xbox…); the platform filter of the product list"`
	Region   string    `json:"region" example:"GLOBAL" doc:"Where the key can be activated: GLOBAL, or a region or country code such as EU or DE"`
	Price    MoneyBody `json:"price" doc:"Sale price of one key, what the customer is charged"`
	InStock  bool      `json:"in_stock" doc:"true when at least one key can be ordered now; false when out of stock or off sale"`
	Preorder bool      `json:"preorder" doc:"true for a game sold before its release: an order is paid now, waits as awaiting_release and its keys are delivered after release_date"`
	// ReleaseDate is a day (YYYY-MM-DD).
	ReleaseDate string `json:"release_date,omitempty" format:"date" example:"2027-02-14" doc:"A pre-order's release day (YYYY-MM-DD, UTC), when the supplier names one; absent for products already released"`
}

func productBody(p *domain.Product) ProductBody {
	return ProductBody{SKU: p.SKU(), Name: p.Name(), Platform: p.Platform(), Region: p.Region(), Price: moneyBody(p.Price()), InStock: p.InStock(),
		Preorder: p.Preorder(), ReleaseDate: domain.FormatDay(p.ReleaseDate())}
}

// PaymentBody tells the customer how to pay.
type PaymentBody struct {
	Provider     string `json:"provider" example:"nowpayments" doc:"The payment gateway that issued the payment; empty until it is set up"`
	PaymentID    string `json:"payment_id" example:"5077125051" doc:"The gateway's id of the payment; empty until it is set up"`
	PayAddress   string `json:"pay_address" example:"TNDzfERDpxLDS2w1q6yaFC7pzqaSQ3Bg3r" doc:"The crypto address to send pay_amount of pay_currency to; empty until the payment is set up"`
	PayAmount    string `json:"pay_amount" example:"21.689150" doc:"Decimal amount of pay_currency to send, exactly; empty until the payment is set up"`
	PayCurrency  string `json:"pay_currency" example:"usdttrc20" doc:"The coin to pay in, as the gateway names it (lower case); empty until the payment is set up"`
	PayinExtraID string `json:"payin_extra_id,omitempty" doc:"Memo or destination tag to send with the payment, for coins that need one"`
	Status       string `json:"status" example:"waiting" doc:"The gateway's payment status; \"not_set_up\" while the payment is not created yet"`
	Hint         string `json:"hint,omitempty" doc:"What to do next, while the payment is not set up"`
}

// paymentNotSetUp is the payment status shown before the gateway issued one.
const paymentNotSetUp = "not_set_up"

// ItemBody is an order line.
type ItemBody struct {
	ID        string    `json:"id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01" doc:"The line's id (UUID)"`
	SKU       string    `json:"sku" example:"cyberpunk-2077-gog-global" doc:"The product ordered"`
	Name      string    `json:"name" example:"Cyberpunk 2077" doc:"The product's name when the order was placed"`
	Quantity  int       `json:"quantity" example:"1" doc:"Keys ordered of this product"`
	UnitPrice MoneyBody `json:"unit_price" doc:"Price of one key, fixed when the order was placed"`
	Status    string    `json:"status" enum:"pending,purchasing,purchased,awaiting_release,sealed,failed" doc:"pending: not sourced yet; purchasing: being bought from the supplier; purchased: bought, key not stored yet; awaiting_release: bought as a pre-order, its keys come after release_date; sealed: the keys are stored encrypted, ready to deliver; failed: could not be sourced"`
	// ReleaseDate is a day (YYYY-MM-DD).
	ReleaseDate string `json:"release_date,omitempty" format:"date" example:"2027-02-14" doc:"For an item bought as a pre-order: the day its keys are released (YYYY-MM-DD, UTC)"`
}

// TimelineEntry is one fulfilment event.
type TimelineEntry struct {
	Type     string            `json:"type" example:"payment_confirmed" doc:"What happened: order_placed, payment_created, payment_confirmed, fulfilment_started, item_sealed, delivery_link_sent, order_revoked…"`
	Status   string            `json:"status" example:"paid" doc:"The order's status right after this event"`
	Metadata map[string]string `json:"metadata,omitempty" doc:"Details of the event (supplier errors, payment ids); admin views only, absent for customers"`
	At       time.Time         `json:"at" doc:"When it happened (RFC 3339)"`
}

// OrderBody is an order as its customer sees it.
type OrderBody struct {
	ID          string          `json:"id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order's id (UUID): the path of GET /v1/orders/{id}"`
	Status      string          `json:"status" doc:"awaiting_payment_setup → pending_payment → paid → fulfilling → fulfilled → delivered (the link is emailed). underpaid: less than due arrived, waiting for the rest; expired: not paid in time; failed: could not be fulfilled (refund due); needs_review: held for a person; revoked: keys withdrawn; refunded: the gateway returned the money" enum:"awaiting_payment_setup,pending_payment,paid,fulfilling,fulfilled,delivered,underpaid,expired,failed,revoked,refunded,needs_review"`
	Email       string          `json:"email" example:"a@example.com" doc:"Where the delivery link is emailed"`
	Total       MoneyBody       `json:"total" doc:"Sum of the lines' unit_price × quantity: what the payment is for"`
	Items       []ItemBody      `json:"items" doc:"The order lines, in the order given"`
	Payment     PaymentBody     `json:"payment" doc:"How to pay"`
	Timeline    []TimelineEntry `json:"timeline,omitempty" doc:"What happened to the order, oldest first; absent when placing and in lists"`
	AccessToken string          `json:"access_token,omitempty" doc:"Returned once, at creation: read the order with it as a bearer token"`
	CreatedAt   time.Time       `json:"created_at" doc:"When the order was placed (RFC 3339)"`
	UpdatedAt   time.Time       `json:"updated_at" doc:"When the order last changed (RFC 3339)"`
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
			UnitPrice: moneyBody(it.UnitPrice()), Status: it.Status().String(), ReleaseDate: domain.FormatDay(it.ReleaseDate())})
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
