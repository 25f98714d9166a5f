package domain

// WebhookEventType is one type of event keyward sends to the shop's
// webhook endpoints: a `resource.action` name and what it means.
type WebhookEventType struct {
	Name        string
	Description string
}

// Webhook event type names.
const (
	WebhookOrderPlaced          = "order.placed"
	WebhookOrderPaid            = "order.paid"
	WebhookOrderUnderpaid       = "order.underpaid"
	WebhookOrderFulfilled       = "order.fulfilled"
	WebhookOrderDelivered       = "order.delivered"
	WebhookOrderFailed          = "order.failed"
	WebhookOrderNeedsReview     = "order.needs_review"
	WebhookOrderRevoked         = "order.revoked"
	WebhookOrderRefunded        = "order.refunded"
	WebhookDeliveryRevealed     = "delivery.revealed"
	WebhookDeliveryLinkReissued = "delivery.link_reissued"
	WebhookStockLow             = "stock.low"
	WebhookSupplierBalanceLow   = "supplier.balance_low"
	WebhookTest                 = "webhook.test"
	WebhookClaimOpened          = "claim.opened"
	WebhookClaimApproved        = "claim.approved"
	WebhookClaimRejected        = "claim.rejected"
	WebhookKeyReplaced          = "key.replaced"
	WebhookKeyReturned          = "key.returned"
	WebhookOrderPreordered      = "order.preordered"
)

// WebhookEventTypes is the catalogue of every event type an endpoint may
// subscribe to, in the order the API lists them. Adding an event type is
// one line here (and, for an order event, one in webhookOrderEvents).
var WebhookEventTypes = []WebhookEventType{
	{WebhookOrderPlaced, "An order was placed and awaits its payment."},
	{WebhookOrderPaid, "The order's payment was confirmed; fulfilment starts."},
	{WebhookOrderUnderpaid, "The payment received is short of the order's total (or a repeat deposit came in); the order is held."},
	{WebhookOrderFulfilled, "Every key of the order was obtained and sealed."},
	{WebhookOrderDelivered, "The delivery link was sent to the customer."},
	{WebhookOrderFailed, "The order could not be fulfilled."},
	{WebhookOrderNeedsReview, "The order is held for a person to look at, with the reason."},
	{WebhookOrderRevoked, "An admin revoked the order's keys."},
	{WebhookOrderRefunded, "The payment was refunded."},
	{WebhookDeliveryRevealed, "The customer revealed the order's keys (the first reveal through a delivery link)."},
	{WebhookDeliveryLinkReissued, "A new delivery link was sent for the order."},
	{WebhookStockLow, "Own stock of a product fell below KEYWARD_STOCK_LOW_THRESHOLD."},
	{WebhookSupplierBalanceLow, "The supplier balance is below KEYWARD_SUPPLIER_BALANCE_LOW (checked every few minutes, sent at most once a day)."},
	{WebhookClaimOpened, "The customer reported a key of the order as not working (claim_id names the claim)."},
	{WebhookClaimApproved, "Support approved a claim; a replacement key is on its way."},
	{WebhookClaimRejected, "Support rejected a claim; the customer was told why."},
	{WebhookKeyReplaced, "A key reported bad was replaced; the bad key is withdrawn for good."},
	{WebhookKeyReturned, "A refund returned the order's unrevealed keys to the supplier they were bought from."},
	{WebhookOrderPreordered, "An item was bought as a pre-order: it waits for its release_date (item_id names it); its keys are delivered after the release."},
	{WebhookTest, "A test event, sent on request to one endpoint."},
}

// WebhookAllEvents subscribes an endpoint to every event type, those added
// later included.
const WebhookAllEvents = "*"

// IsWebhookEventType reports whether name is in the catalogue.
func IsWebhookEventType(name string) bool {
	for _, t := range WebhookEventTypes {
		if t.Name == name {
			return true
		}
	}
	return false
}

// webhookOrderEvents maps the order events that the shop hears of to
// their webhook type and the order status they report.
var webhookOrderEvents = map[string]struct{ Type, Status string }{
	EventOrderPlaced:      {WebhookOrderPlaced, ""},
	EventOrderPaid:        {WebhookOrderPaid, StatusPaid.String()},
	EventPaymentHeld:      {WebhookOrderUnderpaid, StatusUnderpaid.String()},
	EventOrderFulfilled:   {WebhookOrderFulfilled, StatusFulfilled.String()},
	EventOrderDelivered:   {WebhookOrderDelivered, StatusDelivered.String()},
	EventOrderFailed:      {WebhookOrderFailed, StatusFailed.String()},
	EventOrderNeedsReview: {WebhookOrderNeedsReview, StatusNeedsReview.String()},
	EventOrderRevoked:     {WebhookOrderRevoked, StatusRevoked.String()},
	EventOrderRefunded:    {WebhookOrderRefunded, StatusRefunded.String()},
	EventClaimOpened:      {WebhookClaimOpened, ""},
	EventClaimApproved:    {WebhookClaimApproved, ""},
	EventClaimRejected:    {WebhookClaimRejected, ""},
	EventKeyReplaced:      {WebhookKeyReplaced, ""},
	EventKeyReturned:      {WebhookKeyReturned, ""},
	EventOrderPreordered:  {WebhookOrderPreordered, StatusFulfilling.String()},
}

// webhookClaimEvents carry the claim's id as their reason: the payload
// names it claim_id.
var webhookClaimEvents = map[string]bool{EventClaimOpened: true, EventClaimApproved: true, EventClaimRejected: true, EventKeyReplaced: true}
