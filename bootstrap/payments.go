package bootstrap

import (
	"fmt"
	"net/url"
	"strings"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/ports"
)

// PaymentsConfig chooses and configures the payment gateway. The IPN
// secret both gateways' notifications are verified with is Config.IPNSecret.
type PaymentsConfig struct {
	PaymentsGateway        string `env:"KEYWARD_PAYMENTS" envDefault:"sandbox" doc:"payment gateway: \x60sandbox\x60 (in process) or \x60nowpayments\x60"`
	NOWPaymentsAPIURL      string `env:"KEYWARD_NOWPAYMENTS_API_URL" envDefault:"https://api.nowpayments.io" secret:"url" doc:"NOWPayments API base (\x60/v1/payment\x60 is appended); \x60https://api-sandbox.nowpayments.io\x60 for their sandbox"`
	NOWPaymentsAPIKey      string `env:"KEYWARD_NOWPAYMENTS_API_KEY" secret:"true" doc:"NOWPayments API key, with \x60KEYWARD_PAYMENTS=nowpayments\x60"`
	NOWPaymentsPayCurrency string `env:"KEYWARD_NOWPAYMENTS_PAY_CURRENCY" envDefault:"btc" doc:"the coin customers pay in, as NOWPayments names it (\x60btc\x60, \x60usdttrc20\x60...)"`
	NOWPaymentsConfirm     bool   `env:"KEYWARD_NOWPAYMENTS_CONFIRM" envDefault:"false" doc:"before a \x60finished\x60 IPN pays an order, ask NOWPayments (\x60GET /v1/payment/{id}\x60) and go by its answer"`
}

// NOWPayments reports whether the real NOWPayments gateway is chosen.
func (c PaymentsConfig) NOWPayments() bool { return c.PaymentsGateway == "nowpayments" }

// validate returns an error naming the variable to fix.
func (c PaymentsConfig) validate() error {
	switch c.PaymentsGateway {
	case "sandbox":
		return nil
	case "nowpayments":
	default:
		return fmt.Errorf("KEYWARD_PAYMENTS must be sandbox or nowpayments, not %q", c.PaymentsGateway)
	}
	if strings.TrimSpace(c.NOWPaymentsAPIKey) == "" {
		return fmt.Errorf("KEYWARD_PAYMENTS=nowpayments needs KEYWARD_NOWPAYMENTS_API_KEY (the API key of your NOWPayments dashboard)")
	}
	if u, err := url.Parse(c.NOWPaymentsAPIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("KEYWARD_NOWPAYMENTS_API_URL must be an http(s) URL without credentials, such as %s", nowpayments.DefaultAPIURL)
	}
	if strings.TrimSpace(c.NOWPaymentsPayCurrency) == "" {
		return fmt.Errorf("KEYWARD_NOWPAYMENTS_PAY_CURRENCY must not be empty")
	}
	return nil
}

// ipnPath is where keyward receives NOWPayments' IPNs.
const ipnPath = "/v1/webhooks/nowpayments"

// NOWPaymentsModule creates payments with NOWPayments, verifies its IPNs
// and reports its status endpoint to /readyz.
var NOWPaymentsModule = fx.Module("payments.nowpayments",
	fx.Provide(
		func(cfg Config, base BaseURL) (*nowpayments.Gateway, error) {
			p := cfg.Payments
			g, err := nowpayments.NewGateway(nowpayments.GatewayConfig{
				APIURL: p.NOWPaymentsAPIURL, APIKey: p.NOWPaymentsAPIKey, PayCurrency: p.NOWPaymentsPayCurrency,
				CallbackURL: strings.TrimRight(string(base), "/") + ipnPath,
			})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_PAYMENTS=nowpayments: %w", err)
			}
			return g, nil
		},
		func(g *nowpayments.Gateway) ports.PaymentGateway { return g },
		func(cfg Config) ports.NotificationVerifier { return nowpayments.NewVerifier(cfg.IPNSecret) },
		fx.Annotate(func(g *nowpayments.Gateway) ports.HealthCheck {
			return ports.HealthCheck{Name: "payments", Check: g.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
)

// paymentsModule returns the module of the configured payment gateway.
func paymentsModule(cfg Config) fx.Option {
	if cfg.Payments.NOWPayments() {
		return NOWPaymentsModule
	}
	return SandboxPaymentsModule
}
