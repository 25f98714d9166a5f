package http

import "time"

// The claim of the examples' story: the customer of exOrderID reports the
// key of exItemID a day after revealing it.
const (
	exClaimID = "0193a6f0-2b1c-7d3e-9f4a-5b6c7d8e9f00"
	exLink2ID = "0193a6f1-0c2d-7e3f-8a4b-5c6d7e8f9a00"
)

var exClaim = ClaimBody{ID: exClaimID, OrderID: exOrderID, ItemID: exItemID, Status: "open", Reason: "already_used",
	Message: "Steam says: this product code has already been activated.", CreatedAt: exAt(24 * time.Hour)}

func exClaimIn(status string) ClaimBody {
	c := exClaim
	c.Status = status
	return c
}

func init() {
	exCSV := "supplier,supplier_order_id,sku,order_id,item_id,claim_id,reason,bad_keys,approved_at\n" +
		"kinguin,PHS84FJAG5U," + exProduct.SKU + "," + exOrderID + "," + exItemID + "," + exClaimID + ",already_used,1,2026-12-07T10:40:00Z\n"
	for id, ex := range map[string]operationExample{
		"open-claim": {
			request:   map[string]any{"item_id": exItemID, "reason": "already_used", "message": exClaim.Message},
			responses: map[string]any{"201": exClaim},
		},
		"admin-list-claims": {responses: map[string]any{"200": func() any {
			var out adminListClaimsOutput
			out.Body.Items = []ClaimBody{exClaim}
			return out.Body
		}()}},
		"admin-get-claim": {responses: map[string]any{"200": ClaimDetailBody{ClaimBody: exClaim, Order: exOrder("delivered", "sealed"),
			Item: ClaimItemBody{ID: exItemID, SKU: exProduct.SKU, Name: exProduct.Name, Quantity: 1, BoughtFrom: "kinguin",
				SupplierOrderID: "PHS84FJAG5U", Keys: 1},
			Reveals: []ClaimRevealBody{{At: exAt(12 * time.Minute), LinkID: exLinkID, IP: "203.0.113.7",
				UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", First: true}}}}},
		"admin-approve-claim": {
			request: map[string]any{"source": "stock", "note": "Supplier batch 2026-11 reported by two customers."},
			responses: map[string]any{"200": func() any {
				var out approveClaimOutput
				out.Body.Claim, out.Body.Emailed, out.Body.LinkID, out.Body.BlockedKeys = exClaimIn("approved"), true, ptr(exLink2ID), 1
				return out.Body
			}()},
		},
		"admin-reject-claim": {
			request:   map[string]any{"message": "The key was activated on your Steam account on 12 May; we cannot replace it."},
			responses: map[string]any{"200": exClaimIn("rejected")},
		},
		"admin-export-claims": {responses: map[string]any{"200 text/csv; charset=utf-8": exCSV}},
	} {
		operationExamples[id] = ex
	}
}
