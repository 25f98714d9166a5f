package application

// Audit actions recorded in the audit log.
const (
	AuditKeysRevealed    = "keys.revealed"
	AuditKeysRotated     = "keys.rotated"
	AuditKeysRewrapped   = "keys.rewrapped"
	AuditOrderRevoked    = "order.revoked"
	AuditFulfilmentRetry = "order.fulfilment_retried"
	AuditDeliveryResent  = "delivery.link_resent"
	ActorCustomer        = "customer"
	ActorSystem          = "system"
	// ActorGateway is the payment gateway, for its notifications.
	ActorGateway             = "gateway"
	AuditPaymentNotification = "payment.notification"
	AuditPaymentRejected     = "payment.notification_rejected"
)
