package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// BaseURL is the public base URL used in emailed links.
type BaseURL string

// ApplicationModule builds the use cases from whatever adapters the other
// modules bound to the ports. Before the process serves or works, it
// checks the key vault and rehashes stock keys an earlier keyward stored.
var ApplicationModule = fx.Module("application",
	applicationProviders,
	fx.Invoke(verifyKeyVault, rehashStockOnStart, syncCatalogOnStart),
)

// applicationProviders build the application, decorators included, for
// serve, worker and the operator tools alike; the webhook use cases too,
// so that they send mail and open data keys through the decorated ports.
var applicationProviders = fx.Provide(newAppDeps, newAppSettings, application.NewApp, newWebhooks)

type appDeps struct {
	fx.In
	Orders         ports.OrderRepository
	Links          ports.DeliveryLinkRepository
	CustomerLinks  ports.CustomerLinkRepository
	AccessRequests ports.CustomerAccessRequests
	Claims         ports.ClaimRepository
	Revelations    ports.RevelationLog
	Catalog        ports.CatalogRepository
	Stock          ports.StockRepository
	SyncRuns       ports.SyncRunRepository
	PricingRules   ports.PricingRules
	Notifications  ports.PaymentNotificationLog
	DataKeys       ports.DataKeyRepository
	Blobs          ports.BlobStore
	Audit          ports.AuditLog
	AdminKeys      ports.AdminKeys
	Locks          ports.Locks
	Tx             ports.Transactor
	Idempotency    ports.IdempotencyKeys
	DeadLetters    ports.DeadLetters
	Requeue        ports.MessageRequeue
	Vault          ports.KeyVault
	Suppliers      ports.Suppliers
	Offers         ports.OfferRepository
	Monitor        ports.SupplierMonitor    `optional:"true"`
	ItemsBought    ports.ItemsBoughtCounter `optional:"true"`
	Balances       *application.BalanceBook `optional:"true"`
	SupplierMarks  ports.SupplierEventMarks
	Gateway        ports.PaymentGateway
	Verifier       ports.NotificationVerifier
	Mailer         ports.Mailer
	Clock          ports.Clock
	IDs            ports.IDs
	Health         []ports.HealthCheck `group:"health"`
	Log            *slog.Logger
}

// newAppDeps hands the ports fx resolved, as portDecorators decorate them,
// to the application.
func newAppDeps(p appDeps) application.Deps {
	return application.Deps{
		Orders: p.Orders, Links: p.Links, CustomerLinks: p.CustomerLinks, AccessRequests: p.AccessRequests, Claims: p.Claims, Revelations: p.Revelations, Catalog: p.Catalog, Stock: p.Stock, Notifications: p.Notifications,
		DataKeys: p.DataKeys, Blobs: p.Blobs, Audit: p.Audit, AdminKeys: p.AdminKeys, Locks: p.Locks, Tx: p.Tx, Vault: p.Vault, Suppliers: p.Suppliers, Offers: p.Offers, SupplierMonitor: p.Monitor, ItemsBought: p.ItemsBought, Balances: p.Balances,
		Gateway: p.Gateway, Verifier: p.Verifier, Mailer: p.Mailer, Clock: p.Clock, IDs: p.IDs, Health: p.Health, Log: p.Log,
		SupplierMarks: p.SupplierMarks, SyncRuns: p.SyncRuns, PricingRules: p.PricingRules,
		IdempotencyKeys: p.Idempotency, DeadLetters: p.DeadLetters, Requeue: p.Requeue,
	}
}

func newAppSettings(cfg Config, base BaseURL) application.Settings {
	return application.Settings{
		Delivery: application.DeliveryPolicy{TTL: cfg.LinkTTL, MaxReveals: cfg.LinkMaxReveals, PublicBaseURL: strings.TrimRight(string(base), "/"),
			ResendLimit: cfg.ResendLimit, ResendWindow: cfg.ResendWindow},
		ReconcileAfter:  cfg.ReconcileAfter,
		CatalogMargin:   cfg.CatalogMargin,
		PriceFee:        cfg.Catalog.PriceFee,
		PriceEnding:     cfg.Catalog.priceEnding(),
		ConfirmPayments: cfg.Payments.NOWPayments() && cfg.Payments.NOWPaymentsConfirm,
		PriceGuard:      cfg.Stock.priceGuard(),
		TokenSecret:     cfg.tokenSecret(),
		CustomerAccess:  cfg.Customer.policy(),
		Claims:          application.ClaimPolicy{Window: cfg.Customer.ClaimWindow, MaxReplacements: cfg.Customer.MaxReplacements},
		Operations: application.OperationsPolicy{PaymentTimeout: cfg.Operations.PaymentTimeout,
			DeliverySLO: cfg.Operations.DeliverySLO, GiveUpAfter: cfg.Operations.GiveUp, LinkRetention: cfg.Operations.LinkRetention,
			PreorderGrace: cfg.Operations.PreorderGrace},
	}
}

// verifyKeyVault refuses to start when the configured key vault opens none
// of a sample of stored data keys, instead of serving and failing every
// reveal. One key that does not open (a corrupt row) does not stop it.
func verifyKeyVault(lc fx.Lifecycle, app application.App) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		if err := app.Queries.VerifyKeyVault.Handle(ctx); err != nil {
			return fmt.Errorf("refusing to start: %w", err)
		}
		return nil
	}})
}

// runReconciler makes a reconcile pass every ReconcileInterval.
func runReconciler(lc fx.Lifecycle, cfg Config, app application.App, log *slog.Logger) {
	everyInterval(lc, cfg.ReconcileInterval, func(ctx context.Context) {
		if _, err := app.Commands.Reconcile.Handle(ctx); err != nil && ctx.Err() == nil {
			log.Error("reconcile pass failed", "err", err)
		}
	})
}
