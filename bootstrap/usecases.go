package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// BaseURL is the public base URL used in emailed links.
type BaseURL string

// ApplicationModule builds the use cases from whatever adapters the other
// modules bound to the ports.
var ApplicationModule = fx.Module("application",
	fx.Provide(
		func(cfg Config, base BaseURL) application.DeliveryPolicy {
			return application.DeliveryPolicy{TTL: cfg.LinkTTL, MaxReveals: cfg.LinkMaxReveals, PublicBaseURL: strings.TrimRight(string(base), "/")}
		},
		func(o ports.OrderRepository, c ports.CatalogRepository, g ports.PaymentGateway, clk ports.Clock, ids ports.IDs) application.PlaceOrder {
			return application.PlaceOrder{Orders: o, Catalog: c, Gateway: g, Clock: clk, IDs: ids}
		},
		func(o ports.OrderRepository) application.GetOrder { return application.GetOrder{Orders: o} },
		func(c ports.CatalogRepository) application.ListProducts { return application.ListProducts{Catalog: c} },
		func(c ports.CatalogRepository) application.GetProduct { return application.GetProduct{Catalog: c} },
		func(v ports.NotificationVerifier, n ports.PaymentNotificationLog, o ports.OrderRepository, clk ports.Clock, log *slog.Logger) application.HandlePaymentNotification {
			return application.HandlePaymentNotification{Verifier: v, Notifications: n, Orders: o, Clock: clk, Log: log}
		},
		func(o ports.OrderRepository, dk ports.DataKeyRepository, v ports.KeyVault, s ports.Supplier, b ports.BlobStore, clk ports.Clock, log *slog.Logger, hook FulfilmentHook) application.FulfilOrder {
			return application.FulfilOrder{Orders: o, DataKeys: dk, Vault: v, Supplier: s, Blobs: b, Clock: clk, Log: log, Hook: hook}
		},
		application.NewDeliverOrder,
		func(o ports.OrderRepository, l ports.Locks, f application.FulfilOrder, d application.DeliverOrder, clk ports.Clock, cfg Config, log *slog.Logger) application.Reconcile {
			return application.Reconcile{Orders: o, Locks: l, Fulfil: f, Deliver: d, Clock: clk, StaleAfter: cfg.ReconcileAfter, Log: log}
		},
		func(o ports.OrderRepository, l ports.DeliveryLinkRepository, m ports.Mailer, a ports.AuditLog, clk ports.Clock, ids ports.IDs, p application.DeliveryPolicy) application.ResendDeliveryLink {
			return application.NewResendDeliveryLink(o, l, m, a, clk, ids, p)
		},
		func(l ports.DeliveryLinkRepository, o ports.OrderRepository, clk ports.Clock) application.DescribeDelivery {
			return application.DescribeDelivery{Links: l, Orders: o, Clock: clk}
		},
		func(l ports.DeliveryLinkRepository, o ports.OrderRepository, dk ports.DataKeyRepository, v ports.KeyVault, b ports.BlobStore, r ports.RevelationLog, a ports.AuditLog, clk ports.Clock, ids ports.IDs, log *slog.Logger) application.RevealKeys {
			return application.RevealKeys{Links: l, Orders: o, DataKeys: dk, Vault: v, Blobs: b, Revelations: r, Audit: a, Clock: clk, IDs: ids, Log: log}
		},
		func(o ports.OrderRepository, a ports.AuditLog, clk ports.Clock) application.RetryFulfilment {
			return application.RetryFulfilment{Orders: o, Audit: a, Clock: clk}
		},
		func(o ports.OrderRepository, l ports.DeliveryLinkRepository, dk ports.DataKeyRepository, b ports.BlobStore, a ports.AuditLog, clk ports.Clock, log *slog.Logger) application.RevokeOrder {
			return application.RevokeOrder{Orders: o, Links: l, DataKeys: dk, Blobs: b, Audit: a, Clock: clk, Log: log}
		},
		func(s ports.Supplier, c ports.CatalogRepository, clk ports.Clock, cfg Config) application.SyncCatalog {
			return application.SyncCatalog{Supplier: s, Catalog: c, Clock: clk, Margin: cfg.CatalogMargin}
		},
		newRotateKeys,
		newApp,
		func(a ports.AuditLog) application.AuditTrail { return application.AuditTrail{Log: a} },
		fx.Annotate(func(checks []ports.HealthCheck) application.CheckHealth {
			return application.CheckHealth{Checks: checks}
		}, fx.ParamTags(`group:"health"`)),
	),
	fx.Invoke(checkKeyVaultOpensStoredKeys, syncCatalogOnStart, runReconciler),
)

// checkKeyVaultOpensStoredKeys refuses to start when the configured key
// vault opens none of a sample of stored data keys — a lost or wrong
// keyring file, another transit key — instead of serving and failing every
// reveal. One key that does not open (a corrupt row) does not stop the
// service.
func checkKeyVaultOpensStoredKeys(lc fx.Lifecycle, v ports.KeyVault, dk ports.DataKeyRepository) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		stored, err := dk.ListOlderThan(ctx, math.MaxInt32, "", 100)
		if err != nil || len(stored) == 0 {
			return err
		}
		var lastErr error
		for i := 0; i < len(stored); i += max(1, len(stored)/5) {
			key, err := v.UnwrapDataKey(ctx, stored[i].OrderID, stored[i].Wrapped)
			for j := range key {
				key[j] = 0
			}
			if err == nil {
				return nil
			}
			if !errors.Is(err, ports.ErrDataKeyInvalid) {
				return err // the vault is unreachable: say so
			}
			lastErr = err
		}
		return fmt.Errorf("the key vault opens none of the stored data keys it tried: is this the right keyring file or transit key? Refusing to start: %w", lastErr)
	}})
}

// runReconciler makes a reconcile pass every ReconcileInterval.
func runReconciler(lc fx.Lifecycle, cfg Config, rec application.Reconcile, log *slog.Logger) {
	if cfg.ReconcileInterval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			go func() {
				defer close(done)
				t := time.NewTicker(cfg.ReconcileInterval)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						if _, err := rec.Handle(ctx); err != nil && ctx.Err() == nil {
							log.Error("reconcile pass failed", "err", err)
						}
					}
				}
			}()
			return nil
		},
		OnStop: func(stop context.Context) error {
			cancel()
			select {
			case <-done:
			case <-stop.Done():
			}
			return nil
		},
	})
}

func newRotateKeys(v ports.KeyVault, dk ports.DataKeyRepository, a ports.AuditLog, log *slog.Logger) application.RotateKeys {
	return application.RotateKeys{Vault: v, DataKeys: dk, Audit: a, BatchSize: 100, Log: log}
}

// FulfilmentHook is called at fault-injection points of fulfilment (nil in
// production; the crash tests set it).
type FulfilmentHook func(point string)

func syncCatalogOnStart(lc fx.Lifecycle, sync application.SyncCatalog, log *slog.Logger) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		n, err := sync.Handle(ctx)
		if err != nil {
			// Serving with the catalog we have beats not serving at all.
			log.Error("catalog sync failed", "err", err)
			return nil
		}
		log.Info("catalog synced", "products", n)
		return nil
	}})
}

type appParams struct {
	fx.In
	PlaceOrder         application.PlaceOrder
	HandlePayment      application.HandlePaymentNotification
	FulfilOrder        application.FulfilOrder
	DeliverOrder       application.DeliverOrder
	ResendDeliveryLink application.ResendDeliveryLink
	RevealKeys         application.RevealKeys
	RetryFulfilment    application.RetryFulfilment
	RevokeOrder        application.RevokeOrder
	RotateKeys         application.RotateKeys
	SyncCatalog        application.SyncCatalog
	Reconcile          application.Reconcile
	ListProducts       application.ListProducts
	GetProduct         application.GetProduct
	GetOrder           application.GetOrder
	DescribeDelivery   application.DescribeDelivery
	AuditTrail         application.AuditTrail
	CheckHealth        application.CheckHealth
}

func newApp(p appParams) application.App {
	return application.App{
		Commands: application.Commands{
			PlaceOrder: p.PlaceOrder, HandlePayment: p.HandlePayment, FulfilOrder: p.FulfilOrder, DeliverOrder: p.DeliverOrder,
			ResendDeliveryLink: p.ResendDeliveryLink, RevealKeys: p.RevealKeys, RetryFulfilment: p.RetryFulfilment,
			RevokeOrder: p.RevokeOrder, RotateKeys: p.RotateKeys, SyncCatalog: p.SyncCatalog, Reconcile: p.Reconcile,
		},
		Queries: application.Queries{
			ListProducts: p.ListProducts, GetProduct: p.GetProduct, GetOrder: p.GetOrder,
			DescribeDelivery: p.DescribeDelivery, AuditTrail: p.AuditTrail, CheckHealth: p.CheckHealth,
		},
	}
}
