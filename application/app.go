package application

import (
	"log/slog"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
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
	SetUpPayment       SetUpPayment
	HandlePayment      HandlePaymentNotification
	FulfilOrder        FulfilOrder
	FulfilPaid         FulfilPaid
	DeliverOrder       DeliverOrder
	NotifyCustomer     NotifyCustomer
	ResendDeliveryLink ResendDeliveryLink
	RevealKeys         RevealKeys
	RetryFulfilment    RetryFulfilment
	RevokeOrder        RevokeOrder
	RefundOrder        RefundOrder
	RotateKeys         RotateKeys
	SyncCatalog        SyncCatalog
	UpdateProduct      UpdateProduct
	SetPlatformMargin  SetPlatformMargin
	SupplierWebhook    HandleSupplierEvent
	Reconcile          Reconcile
	CreateAdminKey     CreateAdminKey
	RevokeAdminKey     RevokeAdminKey
	RecordAdminRequest RecordAdminRequest
	ImportStock        ImportStock
	RehashStock        RehashStock
	WithdrawStock      WithdrawStock
	SetSourcing        SetSourcing
	RecordDeadLetter   RecordDeadLetter
	ReplayDeadLetter   ReplayDeadLetter
	DiscardDeadLetter  DiscardDeadLetter
	Sweep              Sweep
	// PollSupplier looks again, on a backoff, at orders left waiting for
	// supplier keys.
	PollSupplier PollSupplier
	// A customer finds their orders again: a sign-in link by email, an
	// access token for it, and a new delivery link for one of the orders.
	RequestCustomerAccess RequestCustomerAccess
	SendCustomerSignIn    SendCustomerSignIn
	SignInCustomer        SignInCustomer
	ResendCustomerLink    ResendCustomerLink
	// A customer reports a key that does not work; support rejects.
	OpenClaim    OpenClaim
	RejectClaim  RejectClaim
	ApproveClaim ApproveClaim
	// An admin chooses the suppliers' offers a product is bought from.
	SetProductOffers SetProductOffers
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
	AdminKey         AuthenticateAdminKey
	ListAdminKeys    ListAdminKeys
	ListOrders       ListOrders
	OrderDetail      GetOrderDetail
	Compliance       ReportCompliance
	ListStock        ListStock
	SyncRuns         ListSyncRuns
	PricingRules     ListPricingRules
	DeadLetters      ListDeadLetters
	CustomerOrders   ListCustomerOrders
	Claims           ListClaims
	Claim            GetClaim
	BadKeys          ExportBadKeys
	ProductOffers    ListProductOffers
	Suppliers        ListSuppliers
	OfferSuggestions SuggestOfferLinks
}

// Deps are the ports the use cases drive. Every one is required but those
// said optional: NewApp panics naming the first that is nil.
type Deps struct {
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
	// IdempotencyKeys, DeadLetters and Requeue serve operations: retried
	// orders, dead letters an operator works.
	IdempotencyKeys ports.IdempotencyKeys
	DeadLetters     ports.DeadLetters
	Requeue         ports.MessageRequeue
	Vault           ports.KeyVault
	// Suppliers are where keys are bought, each with its webhooks; an item
	// is bought from its product's supplier.
	Suppliers ports.Suppliers
	// Offers are the suppliers' offers and those linked to each product.
	Offers ports.OfferRepository
	// SupplierMonitor and ItemsBought, optional, tell the suppliers'
	// breakers and balances and the items bought from each.
	SupplierMonitor ports.SupplierMonitor
	ItemsBought     ports.ItemsBoughtCounter
	// Balances, optional, is the last balance known of each supplier,
	// fed by the balance reads of Suppliers (RecordBalances); routing
	// passes over an offer its supplier is known unable to pay for. Nil:
	// a book of its own, fed by the suppliers' refusals only.
	Balances      *BalanceBook
	SupplierMarks ports.SupplierEventMarks
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
	ReconcileAfter time.Duration      // how long an order sits before the reconciler resumes it
	CatalogMargin  decimal.Decimal    // default markup on supplier cost, e.g. 0.10
	PriceFee       decimal.Decimal    // added to every computed price; default 0
	PriceEnding    domain.PriceEnding // computed prices round up to it; default .99
	RotateBatch    int                // data keys rewrapped per batch; default 100
	HealthTimeout  time.Duration      // per readiness check; default 2s
	// ConfirmPayments: a finished payment moves an order only once the
	// gateway, asked again, confirms it.
	ConfirmPayments bool
	PriceGuard      PriceGuard // the most paid to the supplier, and how long to wait for less
	// TokenSecret derives order access tokens (HMAC of the order id); at
	// least 16 bytes, the same on every instance.
	TokenSecret []byte
	Operations  OperationsPolicy
	// SupplierPoll is PollSupplier's backoff; default DefaultSupplierPoll.
	SupplierPoll []time.Duration
	// CustomerAccess: how customers sign in to see their orders.
	CustomerAccess CustomerAccessPolicy
	// Claims: how long after the first reveal a key may be claimed, and
	// how many replacements an item gets.
	Claims ClaimPolicy
}

// NewApp builds every use case from the ports. It panics when a port is
// nil: wiring mistakes stop the program at start-up.
func NewApp(d Deps, s Settings) App {
	// Every status change, data key and email is audited by the unit of
	// work that makes it, whichever use case makes it. A process binds
	// the audited ports where it provides them (every use case it runs,
	// in or out of App, sees them); ports given here as they come are
	// audited here, and audited ones are not audited twice.
	require("App", "orders", d.Orders, "dataKeys", d.DataKeys, "mailer", d.Mailer, "tx", d.Tx, "audit", d.Audit, "log", d.Log)
	d.Orders = AuditOrders(d.Orders, d.Tx, d.Audit)
	d.DataKeys = AuditDataKeys(d.DataKeys, d.Tx, d.Audit)
	d.Mailer = AuditMailer(d.Mailer, d.Tx, d.Audit, d.Log)
	if s.RotateBatch <= 0 {
		s.RotateBatch = 100
	}
	if s.Delivery.ResendWindow <= 0 {
		s.Delivery.ResendWindow = time.Hour
	}
	deliver := NewDeliverOrder(d.Tx, d.Orders, d.Links, d.Mailer, d.Clock, d.IDs, s.Delivery, d.Log)
	fulfil := NewFulfilOrder(d.Orders, d.DataKeys, d.Vault, d.Suppliers, d.Blobs, StockDeps{Stock: d.Stock, Tx: d.Tx, Audit: d.Audit}, s.PriceGuard, d.Clock, d.Log)
	fulfil.deliver = &deliver // the run that completes an order delivers it
	fulfil.locks = d.Locks
	fulfil.offers = d.Offers
	fulfil.catalog = d.Catalog
	fulfil.balances = d.Balances
	if fulfil.balances == nil {
		fulfil.balances = NewBalanceBook(d.Clock)
	}
	poll := newPollSupplier(s.SupplierPoll, d.Clock, d.Log)
	fulfil.poll = poll.s // every copy of fulfil feeds the one schedule
	poll.setFulfil(fulfil)
	// The reconciler's runs do not feed the poll: its own passes come back.
	unpolled := fulfil
	unpolled.poll = nil
	sourced := sourcedCatalog{CatalogRepository: d.Catalog, stock: d.Stock} // buyers see own stock counted
	pricing := PricingSettings{Margin: s.CatalogMargin, Fee: s.PriceFee, Ending: s.PriceEnding}
	sync := NewSyncCatalog(d.Suppliers, d.Catalog, d.SyncRuns, d.PricingRules, d.Locks, d.Clock, d.IDs, pricing, d.Log)
	sync.offers = d.Offers
	setUp := NewSetUpPayment(d.Orders, d.Gateway, d.Clock, d.Log)
	sweep := NewSweep(d.Orders, d.Links, d.Locks, d.Blobs, d.Clock, s.Operations, d.Log)
	sweep.signIns, _ = d.CustomerLinks.(ports.ExpiredLinkPurger)
	refund := NewRefundOrder(d.Tx, d.Orders, d.Links, d.Revelations, d.Stock, d.Suppliers, d.Locks, d.DataKeys, d.Vault, d.Blobs, d.Audit, d.Clock, d.Log)
	reconcile := NewReconcile(d.Orders, d.Locks, setUp, unpolled, deliver, d.Clock, s.ReconcileAfter, d.Log)
	reconcile.poll = poll.s // pre-orders before their release: the poll's daily looks
	notify := NewNotifyCustomer(d.Orders, d.Mailer, d.Clock, d.Log)
	resend := NewResendDeliveryLink(d.Tx, d.Orders, d.Links, d.Mailer, d.Audit, d.Locks, d.Clock, d.IDs, s.Delivery)
	return App{
		Commands: Commands{
			PlaceOrder:            NewPlaceOrder(d.Orders, sourced, d.Gateway, d.IdempotencyKeys, s.TokenSecret, d.Clock, d.IDs, d.Log),
			SetUpPayment:          setUp,
			HandlePayment:         NewHandlePaymentNotification(d.Tx, d.Audit, d.Verifier, d.Notifications, d.Orders, d.Gateway, s.ConfirmPayments, d.Clock, d.Log).refundingWith(refund),
			FulfilOrder:           fulfil,
			FulfilPaid:            NewFulfilPaid(fulfil, notify, d.Log),
			DeliverOrder:          deliver,
			NotifyCustomer:        notify,
			ResendDeliveryLink:    resend,
			RevealKeys:            NewRevealKeys(d.Tx, d.Links, d.Orders, d.DataKeys, d.Vault, d.Blobs, d.Revelations, d.Audit, d.Clock, d.IDs, d.Log),
			RetryFulfilment:       NewRetryFulfilment(d.Tx, d.Orders, d.Audit, d.Clock),
			RevokeOrder:           NewRevokeOrder(d.Tx, d.Orders, d.Links, d.DataKeys, d.Vault, d.Blobs, d.Audit, d.Clock, d.Log),
			RefundOrder:           refund,
			RotateKeys:            NewRotateKeys(d.Tx, d.Vault, d.DataKeys, d.Audit, s.RotateBatch, d.Log),
			SyncCatalog:           sync,
			UpdateProduct:         NewUpdateProduct(d.Tx, d.Catalog, d.PricingRules, d.Audit, pricing),
			SetPlatformMargin:     NewSetPlatformMargin(d.Tx, d.PricingRules, d.Audit),
			SupplierWebhook:       NewHandleSupplierEvent(d.Suppliers, d.SupplierMarks, d.Orders, fulfil, sync, d.Log),
			Reconcile:             reconcile,
			CreateAdminKey:        NewCreateAdminKey(d.AdminKeys, d.Audit, d.Clock, d.IDs),
			RevokeAdminKey:        NewRevokeAdminKey(d.AdminKeys, d.Audit, d.Clock),
			RecordAdminRequest:    NewRecordAdminRequest(d.Audit),
			ImportStock:           NewImportStock(d.Tx, d.Catalog, d.Stock, d.DataKeys, d.Vault, d.Audit, d.Clock, d.IDs),
			RehashStock:           NewRehashStock(d.Tx, d.Stock, d.DataKeys, d.Vault, d.Audit, d.Clock, d.Log),
			WithdrawStock:         NewWithdrawStock(d.Tx, d.Stock, d.Audit, d.Clock),
			SetSourcing:           NewSetSourcing(d.Tx, d.Catalog, d.Stock, d.Audit),
			RecordDeadLetter:      NewRecordDeadLetter(d.DeadLetters, d.Orders, d.Clock, d.Log),
			ReplayDeadLetter:      NewReplayDeadLetter(d.Tx, d.DeadLetters, d.Requeue, d.Audit, d.Clock),
			DiscardDeadLetter:     NewDiscardDeadLetter(d.Tx, d.DeadLetters, d.Audit),
			Sweep:                 sweep,
			PollSupplier:          poll,
			RequestCustomerAccess: NewRequestCustomerAccess(d.Tx, d.AccessRequests, d.Audit, d.Clock, d.IDs),
			SendCustomerSignIn: NewSendCustomerSignIn(d.Tx, d.AccessRequests, d.Orders, d.CustomerLinks, d.Mailer, d.Audit, d.Clock,
				s.CustomerAccess, s.TokenSecret, s.Delivery.PublicBaseURL, d.Log),
			SignInCustomer:     NewSignInCustomer(d.Tx, d.CustomerLinks, d.Audit, d.Clock, s.CustomerAccess, s.TokenSecret),
			ResendCustomerLink: NewResendCustomerLink(d.Orders, resend, d.Clock, s.CustomerAccess, s.TokenSecret),
			OpenClaim:          NewOpenClaim(d.Tx, d.Links, d.Orders, d.Revelations, d.Claims, d.Audit, d.Clock, d.IDs, s.Claims),
			RejectClaim:        NewRejectClaim(d.Tx, d.Claims, d.Orders, d.Suppliers, d.Mailer, d.Audit, d.Clock),
			ApproveClaim: NewApproveClaim(d.Tx, d.Claims, d.Orders, d.Stock, d.Suppliers, s.PriceGuard, d.DataKeys, d.Vault, d.Blobs, d.Links, d.Mailer, d.Audit, d.Clock, d.IDs,
				s.Delivery, s.Claims, d.Log),
			SetProductOffers: NewSetProductOffers(d.Tx, d.Catalog, d.Offers, d.PricingRules, d.Audit, d.Suppliers, pricing),
		},
		Queries: Queries{
			ListProducts:     NewListProducts(sourced),
			GetProduct:       NewGetProduct(sourced),
			GetOrder:         NewGetOrder(d.Orders),
			DescribeDelivery: NewDescribeDelivery(d.Links, d.Orders, d.Clock),
			AuditTrail:       NewAuditTrail(d.Audit),
			CheckHealth:      NewCheckHealth(d.Health, s.HealthTimeout),
			VerifyKeyVault:   NewVerifyKeyVault(d.DataKeys, d.Vault),
			AdminKey:         NewAuthenticateAdminKey(d.AdminKeys),
			ListAdminKeys:    NewListAdminKeys(d.AdminKeys),
			ListOrders:       NewListOrders(d.Orders),
			OrderDetail:      NewGetOrderDetail(d.Orders, d.Notifications, d.Links, d.Clock),
			Compliance:       NewReportCompliance(d.Orders, d.Audit),
			ListStock:        NewListStock(d.Catalog, d.Stock),
			SyncRuns:         NewListSyncRuns(d.SyncRuns),
			PricingRules:     NewListPricingRules(d.PricingRules),
			DeadLetters:      NewListDeadLetters(d.DeadLetters),
			CustomerOrders:   NewListCustomerOrders(d.Orders, d.Links, d.Clock, s.CustomerAccess, s.TokenSecret),
			Claims:           NewListClaims(d.Claims),
			Claim:            NewGetClaim(d.Claims, d.Orders, d.Revelations),
			BadKeys:          NewExportBadKeys(d.Claims, d.Orders),
			ProductOffers:    NewListProductOffers(d.Catalog, d.Offers),
			OfferSuggestions: NewSuggestOfferLinks(d.Offers),
			Suppliers:        NewListSuppliers(d.Suppliers, d.SyncRuns, d.SupplierMonitor, d.ItemsBought, s.HealthTimeout),
		},
	}
}
