package application

// Audit actions recorded in the audit log.
const (
	AuditKeysRevealed    = "keys.revealed"
	AuditRevealUndone    = "keys.reveal_undone"
	AuditKeysRotated     = "keys.rotated"
	AuditOrderRevoked    = "order.revoked"
	AuditFulfilmentRetry = "order.fulfilment_retried"
	AuditDeliveryResent  = "delivery.link_resent"
	ActorCustomer        = "customer"
	ActorSystem          = "system"
)
