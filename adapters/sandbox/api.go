package sandbox

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

type paymentInput struct {
	OrderID string `path:"order_id" maxLength:"64" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The keyward order's id"`
}

// SandboxPaymentBody is a sandbox payment as the API shows it: what `keyward pay`
// needs to write the IPN NOWPayments would send.
type SandboxPaymentBody struct {
	OrderID       string `json:"order_id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The keyward order paid for"`
	PaymentID     string `json:"payment_id" example:"5077125051" doc:"The sandbox payment's id (decimal digits), to quote in the IPN"`
	PayAddress    string `json:"pay_address" example:"TNDzfERDpxLDS2w1q6yaFC7pzqaSQ3Bg3r" doc:"A made-up TRON address the customer would pay to: no money moves"`
	PriceAmount   string `json:"price_amount" example:"19.99" doc:"The order's total, decimal"`
	PriceCurrency string `json:"price_currency" example:"eur" doc:"The total's currency, lower case as NOWPayments writes it"`
	PayAmount     string `json:"pay_amount" example:"21.68915" doc:"Decimal amount of pay_currency due (up to six fractional digits)"`
	PayCurrency   string `json:"pay_currency" example:"usdttrc20" doc:"The coin the customer would pay in, as NOWPayments names it"`
}

type paymentOutput struct{ Body SandboxPaymentBody }

// PaymentsAPI exposes the sandbox gateway's payments so a person (or
// `keyward pay`) can simulate the customer paying. It is registered only
// when the sandbox gateway is the configured one.
func PaymentsAPI(g *Gateway) func(huma.API) {
	return func(api huma.API) {
		huma.Register(api, huma.Operation{
			OperationID: "sandbox-get-payment", Method: "GET", Path: "/v1/sandbox/payments/{order_id}",
			Summary: "Sandbox: the payment issued for an order", Tags: []string{"Sandbox"},
			Description: "Served only when the sandbox payment gateway is configured (the embedded default), so a " +
				"person or `keyward pay` can simulate the customer paying. Unauthenticated by design: a sandbox payment moves no money.",
			Security: []map[string][]string{{}}, Errors: []int{http.StatusNotFound},
			Responses: map[string]*huma.Response{"200": {Content: map[string]*huma.MediaType{"application/json": {Example: SandboxPaymentBody{
				OrderID: "0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00", PaymentID: "5077125051", PayAddress: "TNDzfERDpxLDS2w1q6yaFC7pzqaSQ3Bg3r",
				PriceAmount: "19.99", PriceCurrency: "eur", PayAmount: "21.68915", PayCurrency: "usdttrc20",
			}}}}},
		}, func(_ context.Context, in *paymentInput) (*paymentOutput, error) {
			p, ok := g.Payment(in.OrderID)
			if !ok {
				return nil, huma.Error404NotFound("no sandbox payment for this order")
			}
			return &paymentOutput{Body: SandboxPaymentBody{
				OrderID: p.OrderID, PaymentID: p.PaymentID, PayAddress: p.PayAddress, PriceAmount: p.PriceAmount.String(),
				PriceCurrency: p.PriceCurrency, PayAmount: p.PayAmount.String(), PayCurrency: p.PayCurrency,
			}}, nil
		})
	}
}
