package http

import (
	"fmt"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// operationExample is what one operation's request and answers look like
// in the document: the examples a front-end developer reads next to the
// schemas, and that the docs page's "try it" starts from.
type operationExample struct {
	// request is the JSON request body, for an operation that takes one.
	request any
	// responses are the answers, by status ("200": the JSON body) or by
	// status and media type ("200 text/csv; charset=utf-8").
	responses map[string]any
}

// documentExamples sets the examples of operationExamples on api's
// operations. They are kept apart from the registrations, which they would
// double in length, and all in one place so that they tell one consistent
// story (the same order, product and payment throughout). A streamed answer
// Huma cannot describe gets its media type here, as a string. An example
// for an operation or answer the document lacks is a programmer error: it
// panics.
func documentExamples(api huma.API) {
	ops := map[string]*huma.Operation{}
	for _, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil {
				ops[op.OperationID] = op
			}
		}
	}
	for id, ex := range operationExamples {
		op := ops[id]
		if op == nil {
			panic("keyward http: example for an unknown operation " + id)
		}
		if ex.request != nil {
			if op.RequestBody == nil || op.RequestBody.Content["application/json"] == nil {
				panic("keyward http: request example for " + id + ", which takes no JSON body")
			}
			op.RequestBody.Content["application/json"].Example = ex.request
		}
		for key, v := range ex.responses {
			status, mediaType, typed := strings.Cut(key, " ")
			if !typed {
				mediaType = "application/json"
			}
			r := op.Responses[status]
			if r == nil {
				panic(fmt.Sprintf("keyward http: example for %s's undocumented %s answer", id, status))
			}
			if r.Content == nil {
				r.Content = map[string]*huma.MediaType{}
			}
			if r.Content[mediaType] == nil {
				r.Content[mediaType] = &huma.MediaType{Schema: &huma.Schema{Type: huma.TypeString}}
			}
			r.Content[mediaType].Example = v
		}
	}
}

// operationExamples holds every operation's examples, by operation id.
var operationExamples = map[string]operationExample{
	"list-products": {responses: map[string]any{"200": func() any {
		var out listProductsOutput
		out.Body.Items = []ProductBody{exProduct, {SKU: "elden-ring-steam-global", Name: "Elden Ring", Platform: "Steam", Region: "GLOBAL",
			Price: exMoney("37.99"), InStock: true}}
		out.Body.NextCursor = ptr("elden-ring-steam-global")
		return out.Body
	}()}},
	"get-product": {responses: map[string]any{"200": exProduct}},
	"place-order": {
		request: func() any {
			var in placeOrderInput
			in.Body.Email, in.Body.Items = exEmail, []orderLineBody{{SKU: exProduct.SKU, Quantity: 1}}
			return in.Body
		}(),
		responses: map[string]any{"201": exPlacedOrder(), "202": exAwaitingSetup()},
	},
	"get-order":            {responses: map[string]any{"200": exDelivered(false)}},
	"resend-delivery-link": {responses: map[string]any{"202": exResent().Body}},
	"customer-access": {
		request: map[string]any{"email": exEmail},
		responses: map[string]any{"202": func() any {
			var out customerAccessOutput
			out.Body.Status, out.Body.Detail = "accepted", customerAccessAnswer
			return out.Body
		}()},
	},
	"customer-session": {
		request: map[string]any{"token": "Qm9vbS1zaWduLWluLXRva2VuLTI1Ni1iaXQtcmFuZG9tLXg"},
		responses: map[string]any{"201": func() any {
			var out customerSessionOutput
			out.Body.AccessToken = "cs1.MDE5M2E2MTAtNGQ1ZS03ZjZhLThiN2MtOWQwZTFmMmEzYjRjCjE3NjUwNjUxMDAKYUBleGFtcGxlLmNvbQ.Vt0m8rZb0vQy1n2xK3cJp4sL5dA6fG7hH8jI9kU0lWe"
			out.Body.ExpiresAt = exAt(2 * time.Hour)
			return out.Body
		}()},
	},
	"customer-orders": {responses: map[string]any{"200": func() any {
		var out customerOrdersOutput
		o := exOrder("delivered", "sealed")
		out.Body.Items = []CustomerOrderBody{{ID: o.ID, Status: o.Status, Total: o.Total, Items: o.Items, RevealsLeft: 4,
			CreatedAt: o.CreatedAt, UpdatedAt: exAt(10 * time.Minute)}}
		return out.Body
	}()}},
	"customer-resend-delivery-link": {responses: map[string]any{"202": exResent().Body}},
	"nowpayments-ipn": {
		request: map[string]any{"payment_id": 5077125051, "payment_status": "finished", "pay_address": exPayment.PayAddress,
			"price_amount": 19.99, "price_currency": "eur", "pay_amount": 21.68915, "actually_paid": 21.68915, "pay_currency": "usdttrc20",
			"order_id": exOrderID, "order_description": "keyward order " + exOrderID, "purchase_id": "4905617342",
			"outcome_amount": 21.58070, "outcome_currency": "usdttrc20", "created_at": "2026-12-06T23:05:01.000Z", "updated_at": "2026-12-06T23:14:09.000Z"},
		responses: map[string]any{"200": func() any {
			var out webhookOutput
			out.Body.Status, out.Body.OrderStatus = "ok", "paid"
			return out.Body
		}()},
	},
	"supplier-webhook": {request: map[string]any{"orderId": "PHS84FJAG5U", "orderExternalId": exItemID, "status": "completed",
		"updatedAt": "2026-12-06T23:14:40.090+00:00"}},
	"admin-sync-catalog": {
		request: map[string]any{"mode": "incremental", "max_pages": 20},
		responses: map[string]any{"200": func() any {
			var out catalogSyncOutput
			b := &out.Body
			b.RunID, b.Mode, b.Products, b.Created, b.Changed, b.Deactivated, b.Pages = "0193a4f0-0c1d-7e2f-8a3b-4c5d6e7f8a9b", "incremental", 2000, 12, 140, 3, 20
			b.NextCursor = ptr("21")
			return out.Body
		}()},
	},
	"get-delivery": {responses: map[string]any{"200": func() any {
		var out deliveryOutput
		b := &out.Body
		b.OrderID, b.ExpiresAt, b.RevealsLeft, b.Revealable = exOrderID, exAt(25*time.Minute), 5, true
		b.Items = []deliveryItemBody{{SKU: exProduct.SKU, Name: exProduct.Name, Quantity: 1}}
		return out.Body
	}()}},
	"reveal-keys": {responses: map[string]any{"200": func() any {
		var out revealOutput
		b := &out.Body
		b.OrderID, b.RevealsLeft, b.ExpiresAt, b.FirstReveal = exOrderID, 4, exAt(25*time.Minute), true
		b.Items = []revealedItemBody{{ItemID: exItemID, SKU: exProduct.SKU, Name: exProduct.Name, Keys: []KeyBody{{Type: "text", Value: "EXAMP-LEKEY-00000-00000"}}}}
		return out.Body
	}()}},
	"admin-retry-fulfilment": {responses: map[string]any{"202": func() any {
		o := exOrder("fulfilling", "pending",
			TimelineEntry{Type: "order_placed", Status: "awaiting_payment_setup", At: exPlaced},
			TimelineEntry{Type: "payment_confirmed", Status: "paid", At: exAt(9 * time.Minute), Metadata: exPaidMeta},
			TimelineEntry{Type: "item_failed", Status: "failed", At: exAt(11 * time.Minute),
				Metadata: exItemMeta("failed", "reason", "supplier: product out of stock", "retryable", "false")},
			TimelineEntry{Type: "fulfilment_retried", Status: "fulfilling", At: exAt(time.Hour)})
		o.Payment.Status, o.UpdatedAt = "finished", exAt(time.Hour)
		return o
	}()}},
	"admin-revoke-order": {
		request: map[string]any{"reason": "chargeback opened by the customer's bank"},
		responses: map[string]any{"200": exAdminOrder("revoked", "sealed", TimelineEntry{Type: "order_revoked", Status: "revoked", At: exAt(48 * time.Hour),
			Metadata: map[string]string{"reason": "chargeback opened by the customer's bank"}})},
	},
	"admin-refund-order": {
		request: map[string]any{"reason": "the customer bought the wrong platform", "reference": "USDT refund tx 0x9f2c41e1, sent 2026-12-07"},
		responses: map[string]any{"200": func() any {
			var out refundOutput
			out.Body.OrderBody = exAdminOrder("refunded", "sealed", TimelineEntry{Type: "order_refunded", Status: "refunded", At: exAt(50 * time.Hour),
				Metadata: map[string]string{"from": "delivered", "reason": "the customer bought the wrong platform", "reference": "USDT refund tx 0x9f2c41e1, sent 2026-12-07"}})
			out.Body.KeyOutcomes = []KeyOutcomeBody{{ItemID: exItemID, Slot: 0, Outcome: "returned", Detail: "kinguin order PHS84FJAG5U", SupplierOrderID: "PHS84FJAG5U", At: exAt(50 * time.Hour)}}
			return out.Body
		}()},
	},
	"admin-resend-delivery": {responses: map[string]any{"202": exResent().Body}},
	"admin-rotate-keys": {responses: map[string]any{"200": func() any {
		var out rotateOutput
		out.Body.KeyVersion, out.Body.Rewrapped, out.Body.MinVersionRaised = 4, 1873, true
		return out.Body
	}()}},
	"admin-list-orders": {responses: map[string]any{"200": func() any {
		var out adminListOrdersOutput
		o := exOrder("delivered", "sealed")
		o.Payment.Status = "finished"
		out.Body.Items, out.Body.NextCursor = []OrderBody{o}, ptr("MDE5M2E1YzItN2Q0ZS03YjFhLTlmMDAtMmM1ZDhlNmYxYTAw")
		return out.Body
	}()}},
	"admin-get-order": {responses: map[string]any{"200": OrderDetailBody{OrderBody: exDelivered(true),
		Notifications: []NotificationBody{{Provider: "nowpayments", PaymentID: exPaymentID, Status: "finished",
			BodySHA256: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", ReceivedAt: exAt(9 * time.Minute)}},
		Links: []DeliveryLinkBody{{ID: exLinkID, State: "active", CreatedAt: exAt(10 * time.Minute), ExpiresAt: exAt(25 * time.Minute),
			MaxReveals: 5, RevealsUsed: 1}}}}},
	"admin-list-sync-runs": {responses: map[string]any{"200": func() any {
		var out listSyncRunsOutput
		out.Body.Items = []SyncRunBody{exSyncRun()}
		return out.Body
	}()}},
	"admin-update-product": {
		request: map[string]any{"price": "17.99", "active": true},
		responses: map[string]any{"200": AdminProductBody{ProductBody: ProductBody{SKU: exProduct.SKU, Name: exProduct.Name, Platform: "GOG",
			Region: "GLOBAL", Price: exMoney("17.99"), InStock: true}, Active: true, Stock: 240, PricePinned: true,
			Cost: ptr(exMoney("17.49")), Supplier: "kinguin"}},
	},
	"admin-list-pricing-rules": {responses: map[string]any{"200": func() any {
		var out pricingRulesOutput
		out.Body.Items = []PricingRuleBody{{Scope: "platform", Key: "steam", Margin: "0.12"}, {Scope: "product", Key: exProduct.SKU, Margin: "0.2"}}
		return out.Body
	}()}},
	"admin-set-platform-margin": {request: map[string]any{"margin": "0.15"}},
	"admin-stock-upload": {
		request: map[string]any{"keys": []string{"EXAMP-LEKEY-00000-00001", "EXAMP-LEKEY-00000-00002"}},
		responses: map[string]any{"200": func() any {
			var out stockUploadOutput
			out.Body.Added, out.Body.Duplicates = 2, 0
			out.Body.IDs = []string{"0193a5f2-3c4d-7e5f-8a6b-7c8d9e0f1a2b", "0193a5f2-3c4d-7e5f-8a6b-7c8d9e0f1a2c"}
			return out.Body
		}()},
	},
	"admin-stock-levels": {responses: map[string]any{"200": exStockLevels("stock_then_supplier").Body}},
	"admin-product-sourcing": {
		request:   map[string]any{"sourcing": "stock_only"},
		responses: map[string]any{"200": exStockLevels("stock_only").Body},
	},
	"admin-list-dead-letters": {responses: map[string]any{"200": func() any {
		var out listDeadLettersOutput
		out.Body.Items = []DeadLetterBody{exDeadLetter()}
		return out.Body
	}()}},
	"admin-replay-dead-letter": {responses: map[string]any{"202": func() any {
		var out replayDeadLetterOutput
		out.Body.DeadLetterBody, out.Body.Requeued = exDeadLetter(), true
		out.Body.ReplayedAt = ptr(exAt(2 * time.Hour))
		return out.Body
	}()}},
	"admin-list-audit": {responses: map[string]any{
		"200":                         auditPage{Items: []AuditRecordBody{exAuditRecord}, NextAfter: ptr(exAuditRecord.Seq)},
		"200 application/jsonl":       exAuditJSONL,
		"200 text/csv; charset=utf-8": exAuditCSV,
	}},
	"admin-export-audit": {responses: map[string]any{
		"200 application/jsonl":       exAuditJSONL,
		"200 text/csv; charset=utf-8": exAuditCSV,
	}},
	"admin-verify-audit": {responses: map[string]any{"200": func() any {
		var out auditVerifyOutput
		out.Body.Valid, out.Body.Verified = true, 1042
		return out.Body
	}()}},
	"admin-compliance-report": {responses: map[string]any{"200": func() any {
		var out complianceOutput
		b := &out.Body
		b.From, b.To = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		b.RevealsPerDay = []DayCountBody{{Day: "2026-11-01", Count: 37}, {Day: "2026-11-02", Count: 42}}
		b.PaidToDelivered = PercentilesBody{Count: 1180, P50: 38.5, P90: 95, P99: 240, Max: 610}
		b.Orders, b.Failed, b.Held, b.Revoked = 1204, 3, 2, 1
		return out.Body
	}()}},
	"healthz": {responses: map[string]any{"200": map[string]any{"status": "ok"}}},
	"readyz": {responses: map[string]any{
		"200": readyBody{Status: "ok", Components: []componentBody{{Name: "postgres", Status: "ok", LatencyMS: 0.8},
			{Name: "keyvault", Status: "ok", LatencyMS: 2.1}, {Name: "messaging", Status: "ok", LatencyMS: 0.5}}},
		"503": readyBody{Status: "degraded", Components: []componentBody{{Name: "postgres", Status: "ok", LatencyMS: 0.8},
			{Name: "keyvault", Status: "down", LatencyMS: 2000}, {Name: "messaging", Status: "ok", LatencyMS: 0.5}}},
	}},
}

// The audit record of exAuditRecord as the jsonl and csv exports write it.
var (
	exAuditJSONL = `{"seq":1042,"at":"2026-12-06T23:17:00Z","actor":"customer","action":"keys.revealed","subject":"` + exOrderID +
		`","details":{"first":"true","ip":"203.0.113.7","link_id":"` + exLinkID + `"},"prev_hash":"` + exAuditRecord.PrevHash +
		`","hash":"` + exAuditRecord.Hash + `"}` + "\n"
	exAuditCSV = "seq,at,actor,action,subject,details,prev_hash,hash\n" +
		`1042,2026-12-06T23:17:00Z,customer,keys.revealed,` + exOrderID + `,"{""first"":""true"",""ip"":""203.0.113.7"",""link_id"":""` +
		exLinkID + `""}",` + exAuditRecord.PrevHash + "," + exAuditRecord.Hash + "\n"
)
