package bootstrap

import (
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/ports"
)

// SandboxSupplierModule buys keys from the in-process fake supplier.
var SandboxSupplierModule = fx.Module("supplier.sandbox",
	fx.Provide(
		func(cfg Config) *sandbox.Supplier {
			return sandbox.NewSupplier(sandbox.SupplierConfig{Latency: cfg.SupplierLatency, FailureRate: cfg.SupplierFailRate, StockScale: cfg.SupplierStock})
		},
		// The sandbox takes webhooks in Kinguin's form, under Kinguin's
		// secret (it sends none itself: tests and operators do).
		fx.Annotate(func(cfg Config, s *sandbox.Supplier) ports.SupplierRegistration {
			return ports.SupplierRegistration{Supplier: s, Hooks: kinguin.NewWebhookVerifier(cfg.Supplier.KinguinWebhookSecret)}
		}, fx.ResultTags(`group:"suppliers"`)),
	),
)

// SandboxPaymentsModule issues sandbox payments whose IPNs use NOWPayments'
// real signature scheme, verified by the real NOWPayments verifier.
var SandboxPaymentsModule = fx.Module("payments.sandbox",
	fx.Provide(
		func() *sandbox.Gateway { return sandbox.NewGateway(sandbox.GatewayConfig{}) },
		func(g *sandbox.Gateway) ports.PaymentGateway { return g },
		func(cfg Config) ports.NotificationVerifier { return nowpayments.NewVerifier(cfg.IPNSecret) },
		fx.Annotate(sandbox.PaymentsAPI, fx.ResultTags(`group:"api"`)),
	),
)
