package bootstrap

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/ports"
)

// SandboxSupplierModule buys keys from the in-process fake supplier.
var SandboxSupplierModule = fx.Module("supplier.sandbox",
	fx.Provide(
		func(cfg Config) *sandbox.Supplier {
			return sandbox.NewSupplier(sandbox.SupplierConfig{Latency: cfg.SupplierLatency, FailureRate: cfg.SupplierFailRate})
		},
		func(s *sandbox.Supplier) ports.Supplier { return s },
		fx.Annotate(func(s ports.Supplier) ports.HealthCheck {
			return ports.HealthCheck{Name: "supplier", Check: s.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
)

// SandboxPaymentsModule issues sandbox payments whose IPNs use NOWPayments'
// real signature scheme, verified by the real NOWPayments verifier.
var SandboxPaymentsModule = fx.Module("payments.sandbox",
	fx.Provide(
		func() *sandbox.Gateway { return sandbox.NewGateway(sandbox.GatewayConfig{}) },
		func(g *sandbox.Gateway) ports.PaymentGateway { return g },
		func(cfg Config) ports.NotificationVerifier { return nowpayments.NewVerifier(cfg.IPNSecret) },
		fx.Annotate(sandboxPaymentsAPI, fx.ResultTags(`group:"api"`)),
	),
)

// MaildirModule writes emails as .eml files into KEYWARD_MAIL_DIR.
var MaildirModule = fx.Module("mail.maildir",
	fx.Provide(
		func(cfg Config) (ports.Mailer, error) {
			m, err := maildir.New(cfg.MailDir, cfg.MailFrom, time.Now)
			if err != nil {
				return nil, fmt.Errorf("mail dir %s: %w", cfg.MailDir, err)
			}
			return m, nil
		},
	),
)

type sandboxPaymentInput struct {
	OrderID string `path:"order_id" maxLength:"64"`
}

// SandboxPaymentBody is what `keyward pay` needs to forge a signed IPN.
type SandboxPaymentBody struct {
	OrderID       string `json:"order_id"`
	PaymentID     string `json:"payment_id"`
	PayAddress    string `json:"pay_address"`
	PriceAmount   string `json:"price_amount"`
	PriceCurrency string `json:"price_currency"`
	PayAmount     string `json:"pay_amount"`
	PayCurrency   string `json:"pay_currency"`
}

type sandboxPaymentOutput struct{ Body SandboxPaymentBody }

// sandboxPaymentsAPI exposes the sandbox gateway's payments so a person (or
// `keyward pay`) can simulate the customer paying. Only the sandbox has it.
func sandboxPaymentsAPI(g *sandbox.Gateway) func(huma.API) {
	return func(api huma.API) {
		huma.Register(api, huma.Operation{
			OperationID: "sandbox-get-payment", Method: "GET", Path: "/v1/sandbox/payments/{order_id}",
			Summary: "Sandbox: the payment issued for an order", Tags: []string{"Sandbox"},
			Security: []map[string][]string{{}}, Errors: []int{http.StatusNotFound},
		}, func(_ context.Context, in *sandboxPaymentInput) (*sandboxPaymentOutput, error) {
			p, ok := g.Payment(in.OrderID)
			if !ok {
				return nil, huma.Error404NotFound("no sandbox payment for this order")
			}
			return &sandboxPaymentOutput{Body: SandboxPaymentBody{
				OrderID: p.OrderID, PaymentID: p.PaymentID, PayAddress: p.PayAddress, PriceAmount: p.PriceAmount.String(),
				PriceCurrency: p.PriceCurrency, PayAmount: p.PayAmount.String(), PayCurrency: p.PayCurrency,
			}}, nil
		})
	}
}
