package http

import "time"

// The story the examples tell: one order for Cyberpunk 2077, paid in USDT.
const (
	exOrderID   = "0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00"
	exItemID    = "0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01"
	exLinkID    = "0193a5d0-11aa-7c3e-8d2b-5e6f7a8b9c0d"
	exPaymentID = "5077125051"
	exEmail     = "a@example.com"
	// exAccessToken has the shape of a real token (32 bytes, base64url);
	// it opens nothing.
	exAccessToken = "ZXhhbXBsZSB0b2tlbjogaXQgb3BlbnMgbm90aGluZy4"
)

var exPlaced = time.Date(2026, 12, 6, 23, 5, 0, 0, time.UTC)

// exAt is the example time d after the order was placed.
func exAt(d time.Duration) time.Time { return exPlaced.Add(d) }

func exMoney(amount string) MoneyBody { return MoneyBody{Amount: amount, Currency: "EUR"} }

var exProduct = ProductBody{SKU: "cyberpunk-2077-gog-global", Name: "Cyberpunk 2077", Platform: "GOG", Region: "GLOBAL",
	Price: exMoney("19.99"), InStock: true}

var exPayment = PaymentBody{Provider: "nowpayments", PaymentID: exPaymentID, PayAddress: "TNDzfERDpxLDS2w1q6yaFC7pzqaSQ3Bg3r",
	PayAmount: "21.689150", PayCurrency: "usdttrc20", Status: "waiting"}

// exOrder is the example order in status, with timeline when given.
func exOrder(status, itemStatus string, timeline ...TimelineEntry) OrderBody {
	return OrderBody{ID: exOrderID, Status: status, Email: exEmail, Total: exMoney("19.99"),
		Items:   []ItemBody{{ID: exItemID, SKU: exProduct.SKU, Name: exProduct.Name, Quantity: 1, UnitPrice: exMoney("19.99"), Status: itemStatus}},
		Payment: exPayment, Timeline: timeline, CreatedAt: exPlaced, UpdatedAt: exPlaced}
}

// exTimeline is the example order's history up to delivery; admin views
// carry each entry's metadata.
// exPaidMeta is what a payment_confirmed entry records.
var exPaidMeta = map[string]string{"payment_status": "finished", "actually_paid": "21.68915"}

// exItemMeta is what an item entry records, with extra key, value pairs.
func exItemMeta(itemStatus string, extra ...string) map[string]string {
	m := map[string]string{"item_id": exItemID, "sku": exProduct.SKU, "item_status": itemStatus}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func exTimeline(admin bool) []TimelineEntry {
	entries := []TimelineEntry{
		{Type: "order_placed", Status: "awaiting_payment_setup", At: exPlaced},
		{Type: "payment_created", Status: "pending_payment", At: exPlaced, Metadata: map[string]string{"provider": "nowpayments", "payment_id": exPaymentID}},
		{Type: "payment_confirmed", Status: "paid", At: exAt(9 * time.Minute), Metadata: exPaidMeta},
		{Type: "fulfilment_started", Status: "fulfilling", At: exAt(9 * time.Minute)},
		{Type: "item_sealed", Status: "fulfilling", At: exAt(10 * time.Minute), Metadata: exItemMeta("sealed")},
		{Type: "order_fulfilled", Status: "fulfilled", At: exAt(10 * time.Minute)},
		{Type: "delivery_link_sent", Status: "delivered", At: exAt(10 * time.Minute), Metadata: map[string]string{"link_id": exLinkID}},
	}
	if !admin {
		for i := range entries {
			entries[i].Metadata = nil
		}
	}
	return entries
}

func exDelivered(admin bool) OrderBody {
	o := exOrder("delivered", "sealed", exTimeline(admin)...)
	o.Payment.Status, o.UpdatedAt = "finished", exAt(10*time.Minute)
	return o
}

func exPlacedOrder() OrderBody {
	o := exOrder("pending_payment", "pending")
	o.AccessToken = exAccessToken
	return o
}

func exAwaitingSetup() OrderBody {
	o := exOrder("awaiting_payment_setup", "pending")
	o.AccessToken = exAccessToken
	o.Payment = PaymentBody{Status: paymentNotSetUp, Hint: "The payment is being set up. Poll GET /v1/orders/" + exOrderID +
		" with your access token as a bearer token: the address and amount to pay appear here within minutes."}
	return o
}

func exAdminOrder(status, itemStatus string, last TimelineEntry) OrderBody {
	o := exOrder(status, itemStatus, append(exTimeline(true), last)...)
	o.Payment.Status, o.UpdatedAt = "finished", last.At
	return o
}

func exResent() resendOutput {
	var out resendOutput
	out.Body.LinkID, out.Body.ExpiresAt = exLinkID, "2026-12-07T09:30:00Z"
	return out
}

func exDeadLetter() DeadLetterBody {
	return DeadLetterBody{ID: "0193a5e1-2b3c-7d4e-9f50-6a7b8c9d0e1f", Topic: "order.paid", OrderID: exOrderID,
		Reason: "transient: supplier: 503 Service Unavailable", Attempts: 5, CreatedAt: exAt(40 * time.Minute)}
}

func exAudit(seq int64, action string, details map[string]string, prev, hash string) AuditRecordBody {
	return AuditRecordBody{Seq: seq, At: exAt(12 * time.Minute), Actor: "customer", Action: action, Subject: exOrderID,
		Details: details, PrevHash: prev, Hash: hash}
}

var exAuditRecord = exAudit(1042, "keys.revealed", map[string]string{"link_id": exLinkID, "ip": "203.0.113.7", "first": "true"},
	"9f2c4e1a7b3d5f60812a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d",
	"3b5d7f91a2c4e6082b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6c8e")

func exStockLevels(sourcing string) stockLevelsOutput {
	var out stockLevelsOutput
	out.Body.SKU, out.Body.Sourcing, out.Body.Available, out.Body.Assigned, out.Body.Withdrawn = "windows-11-pro-oem-global", sourcing, 118, 42, 1
	return out
}

func exSyncRun() SyncRunBody {
	finished := exAt(-time.Hour + 2*time.Minute)
	return SyncRunBody{ID: "0193a4f0-0c1d-7e2f-8a3b-4c5d6e7f8a9b", Supplier: "kinguin", Mode: "full", Status: "succeeded", StartedAt: exAt(-time.Hour),
		FinishedAt: &finished, Seen: 14, Created: 0, Changed: 2, Deactivated: 1, Errors: []string{}}
}

func ptr[T any](v T) *T { return &v }
