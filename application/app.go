package application

import (
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/ports"
)

// App is every use case keyward offers, as its driving adapters (the HTTP
// API, the message handlers, the command line) see them. Commands change
// state; queries only read.
type App struct {
	Commands Commands
	Queries  Queries
}

// Commands are the use cases that change state.
type Commands struct {
	PlaceOrder         PlaceOrder
	HandlePayment      HandlePaymentNotification
	FulfilOrder        FulfilOrder
	DeliverOrder       DeliverOrder
	NotifyCustomer     NotifyCustomer
	ResendDeliveryLink ResendDeliveryLink
	RevealKeys         RevealKeys
	RetryFulfilment    RetryFulfilment
	RevokeOrder        RevokeOrder
	RotateKeys         RotateKeys
	SyncCatalog        SyncCatalog
	Reconcile          Reconcile
}

// Queries are the use cases that only read.
type Queries struct {
	ListProducts     ListProducts
	GetProduct       GetProduct
	GetOrder         GetOrder
	DescribeDelivery DescribeDelivery
	AuditTrail       AuditTrail
	CheckHealth      CheckHealth
	VerifyKeyVault   VerifyKeyVault
}

// Deps are the ports the use cases drive. Every one is required: NewApp
// panics naming the first that is nil.
type Deps struct {
	Orders        ports.OrderRepository
	Links         ports.DeliveryLinkRepository
	Revelations   ports.RevelationLog
	Catalog       ports.CatalogRepository
	Notifications ports.PaymentNotificationLog
	DataKeys      ports.DataKeyRepository
	Blobs         ports.BlobStore
	Audit         ports.AuditLog
	Locks         ports.Locks
	Vault         ports.KeyVault
	Supplier      ports.Supplier
	Gateway       ports.PaymentGateway
	Verifier      ports.NotificationVerifier
	Mailer        ports.Mailer
	Clock         ports.Clock
	IDs           ports.IDs
	Health        []ports.HealthCheck
	Log           *slog.Logger
}

// Settings tune the use cases; the zero value of each field takes the
// default named beside it.
type Settings struct {
	Delivery       DeliveryPolicy
	ReconcileAfter time.Duration   // how long an order sits before the reconciler resumes it
	CatalogMargin  decimal.Decimal // markup on supplier cost, e.g. 0.10
	RotateBatch    int             // data keys rewrapped per batch; default 100
	HealthTimeout  time.Duration   // per readiness check; default 2s
}

// NewApp builds every use case from the ports. It panics when a port is
// nil: wiring mistakes stop the program at start-up.
func NewApp(d Deps, s Settings) App {
	if s.RotateBatch <= 0 {
		s.RotateBatch = 100
	}
	if s.Delivery.ResendWindow <= 0 {
		s.Delivery.ResendWindow = time.Hour
	}
	fulfil := NewFulfilOrder(d.Orders, d.DataKeys, d.Vault, d.Supplier, d.Blobs, d.Clock, d.Log)
	deliver := NewDeliverOrder(d.Orders, d.Links, d.Mailer, d.Clock, d.IDs, s.Delivery, d.Log)
	return App{
		Commands: Commands{
			PlaceOrder:         NewPlaceOrder(d.Orders, d.Catalog, d.Gateway, d.Clock, d.IDs),
			HandlePayment:      NewHandlePaymentNotification(d.Verifier, d.Notifications, d.Orders, d.Clock, d.Log),
			FulfilOrder:        fulfil,
			DeliverOrder:       deliver,
			NotifyCustomer:     NewNotifyCustomer(d.Orders, d.Mailer, d.Clock, d.Log),
			ResendDeliveryLink: NewResendDeliveryLink(d.Orders, d.Links, d.Mailer, d.Audit, d.Locks, d.Clock, d.IDs, s.Delivery),
			RevealKeys:         NewRevealKeys(d.Links, d.Orders, d.DataKeys, d.Vault, d.Blobs, d.Revelations, d.Audit, d.Clock, d.IDs, d.Log),
			RetryFulfilment:    NewRetryFulfilment(d.Orders, d.Audit, d.Clock),
			RevokeOrder:        NewRevokeOrder(d.Orders, d.Links, d.DataKeys, d.Vault, d.Blobs, d.Audit, d.Clock, d.Log),
			RotateKeys:         NewRotateKeys(d.Vault, d.DataKeys, d.Audit, s.RotateBatch, d.Log),
			SyncCatalog:        NewSyncCatalog(d.Supplier, d.Catalog, d.Clock, s.CatalogMargin),
			Reconcile:          NewReconcile(d.Orders, d.Locks, fulfil, deliver, d.Clock, s.ReconcileAfter, d.Log),
		},
		Queries: Queries{
			ListProducts:     NewListProducts(d.Catalog),
			GetProduct:       NewGetProduct(d.Catalog),
			GetOrder:         NewGetOrder(d.Orders),
			DescribeDelivery: NewDescribeDelivery(d.Links, d.Orders, d.Clock),
			AuditTrail:       NewAuditTrail(d.Audit),
			CheckHealth:      NewCheckHealth(d.Health, s.HealthTimeout),
			VerifyKeyVault:   NewVerifyKeyVault(d.DataKeys, d.Vault),
		},
	}
}
