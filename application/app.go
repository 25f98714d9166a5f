package application

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
}
