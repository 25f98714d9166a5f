package bootstrap

import (
	"context"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/ports"
)

// MemoryStorageModule keeps everything in process memory (the embedded
// default); the ciphertext's store is chosen apart (blobs.go). Orders publish their events after each save.
var MemoryStorageModule = fx.Module("storage.memory",
	auditKeyProviders,
	fx.Decorate(func(p ports.EventPublisher, m *metrics.Metrics) ports.EventPublisher { return countedPublisher{p, m} }),
	fx.Provide(
		fx.Annotate(memory.NewOrders, fx.As(new(ports.OrderRepository)), fx.As(new(ports.OrderCounter)), fx.As(new(ports.ItemsBoughtCounter))),
		fx.Annotate(memory.NewLinks, fx.As(new(ports.DeliveryLinkRepository))),
		fx.Annotate(memory.NewCustomerLinks, fx.As(new(ports.CustomerLinkRepository)), fx.As(new(ports.CustomerAccessRequests))),
		fx.Annotate(memory.NewClaims, fx.As(new(ports.ClaimRepository))),
		fx.Annotate(memory.NewRevelations, fx.As(new(ports.RevelationLog))),
		fx.Annotate(memory.NewCatalog, fx.As(new(ports.CatalogRepository)), fx.As(fx.Self())),
		fx.Annotate(memory.NewOffers, fx.As(new(ports.OfferRepository))),
		fx.Annotate(memory.NewSyncRuns, fx.As(new(ports.SyncRunRepository))),
		fx.Annotate(memory.NewPricingRules, fx.As(new(ports.PricingRules))),
		fx.Annotate(memory.NewNotifications, fx.As(new(ports.PaymentNotificationLog))),
		fx.Annotate(memory.NewDataKeys, fx.As(new(ports.DataKeyRepository))),
		fx.Annotate(memory.NewAuditLog, fx.As(new(ports.AuditLog))),
		fx.Annotate(memory.NewAdminKeys, fx.As(new(ports.AdminKeys))),
		fx.Annotate(memory.NewLocks, fx.As(new(ports.Locks))),
		func() ports.Transactor { return memory.Transactor{} },
		fx.Annotate(memory.NewSupplierEventMarks, fx.As(new(ports.SupplierEventMarks))),
		fx.Annotate(func() ports.HealthCheck {
			return ports.HealthCheck{Name: "storage", Check: func(context.Context) error { return nil }}
		}, fx.ResultTags(`group:"health"`)),
	),
)
