package http

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

type deadLetterPage struct {
	Items      []DeadLetterBody `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

// TestDeadLetterOperations: support lists dead letters (filtered by topic
// and order, a page at a time) but may not replay or discard them; an
// admin replays one (the message goes back once, however often it is
// replayed) and discards one; each change is audited.
func TestDeadLetterOperations(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	for i := range 5 {
		topic := "order.paid"
		if i == 4 {
			topic = "order.fulfilled"
		}
		l := ports.DeadLetter{ID: "dl-" + strconv.Itoa(i), Topic: topic, OrderID: "order-" + strconv.Itoa(i%2), Reason: "supplier refused",
			Attempts: 1, Payload: []byte(`{}`), Metadata: map[string]string{"order_id": "order-" + strconv.Itoa(i%2)}}
		if err := app.Commands.RecordDeadLetter.Handle(t.Context(), l, application.FailurePermanent, true); err != nil {
			t.Fatal(err)
		}
	}
	support, _ := newKey(t, app, "support", "desk")

	page := func(query string, auth string) deadLetterPage {
		t.Helper()
		resp := api.Get("/v1/admin/dead-letters"+query, auth)
		var p deadLetterPage
		if resp.Code != http.StatusOK || json.Unmarshal(resp.Body.Bytes(), &p) != nil {
			t.Fatalf("list %s: %d %s", query, resp.Code, resp.Body)
		}
		return p
	}
	first := page("?limit=2&topic=order.paid", support)
	if len(first.Items) != 2 || first.NextCursor == nil || first.Items[0].ID != "dl-0" {
		t.Fatalf("first page %+v", first)
	}
	second := page("?limit=2&topic=order.paid&cursor="+*first.NextCursor, support)
	if len(second.Items) != 2 || second.NextCursor != nil || second.Items[0].ID != "dl-2" {
		t.Fatalf("second page %+v", second)
	}
	if byOrder := page("?order_id=order-1", support); len(byOrder.Items) != 2 {
		t.Fatalf("order-1 has %d letters, want 2", len(byOrder.Items))
	}
	if l := first.Items[0]; l.Reason != "permanent: supplier refused" || l.OrderID != "order-0" || l.Attempts != 1 || l.CreatedAt.IsZero() {
		t.Fatalf("letter %+v", l)
	}

	if resp := api.Post("/v1/admin/dead-letters/dl-0/replay", support); resp.Code != http.StatusForbidden {
		t.Fatalf("support replay: %d, want 403", resp.Code)
	}
	if resp := api.Delete("/v1/admin/dead-letters/dl-0", support); resp.Code != http.StatusForbidden {
		t.Fatalf("support discard: %d, want 403", resp.Code)
	}

	for i, want := range []bool{true, false} {
		resp := api.Post("/v1/admin/dead-letters/dl-0/replay", adminAuth)
		var out struct {
			Requeued   bool    `json:"requeued"`
			ReplayedAt *string `json:"replayed_at"`
		}
		if resp.Code != http.StatusAccepted || json.Unmarshal(resp.Body.Bytes(), &out) != nil {
			t.Fatalf("replay %d: %d %s", i, resp.Code, resp.Body)
		}
		if out.Requeued != want || out.ReplayedAt == nil && i > 0 {
			t.Fatalf("replay %d: requeued=%t, want %t", i, out.Requeued, want)
		}
	}
	if n := w.requeue.count(); n != 1 {
		t.Fatalf("requeued %d times, want once", n)
	}
	if resp := api.Post("/v1/admin/dead-letters/nope/replay", adminAuth); resp.Code != http.StatusNotFound {
		t.Fatalf("replay unknown: %d, want 404", resp.Code)
	}

	if resp := api.Delete("/v1/admin/dead-letters/dl-4", adminAuth); resp.Code != http.StatusNoContent {
		t.Fatalf("discard: %d %s", resp.Code, resp.Body)
	}
	if resp := api.Delete("/v1/admin/dead-letters/dl-4", adminAuth); resp.Code != http.StatusNotFound {
		t.Fatalf("discard twice: %d, want 404", resp.Code)
	}
	if left := page("?topic=order.fulfilled", support); len(left.Items) != 0 {
		t.Fatalf("discarded letter still listed: %+v", left)
	}

	actions := map[string]int{}
	for _, r := range auditRecords(t, api, "") {
		actions[r.Action]++
	}
	if actions[application.AuditDeadLetterReplayed] != 1 || actions[application.AuditDeadLetterDiscarded] != 1 {
		t.Fatalf("audit %v: want one replay and one discard", actions)
	}
}

// TestIdempotencyKeyReturnsTheSameOrder: POST /v1/orders retried with the
// same Idempotency-Key and body returns the same order and access token
// (which reads it), not a second order; the key with another body is 409.
func TestIdempotencyKeyReturnsTheSameOrder(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	body := map[string]any{"email": "buyer@example.com", "items": []any{map[string]any{"sku": "cyberpunk-2077-gog-global", "quantity": 1}}}
	var orders []placedOrder
	for range 2 {
		resp := api.Post("/v1/orders", "Idempotency-Key: 0b6a4f8e-retry", body)
		var o placedOrder
		if resp.Code != http.StatusCreated || json.Unmarshal(resp.Body.Bytes(), &o) != nil {
			t.Fatalf("place: %d %s", resp.Code, resp.Body)
		}
		orders = append(orders, o)
	}
	if orders[0].ID != orders[1].ID || orders[0].AccessToken != orders[1].AccessToken || orders[0].AccessToken == "" {
		t.Fatalf("a retry made %+v after %+v, want the same order and token", orders[1], orders[0])
	}
	if resp := api.Get("/v1/orders/"+orders[1].ID, "Authorization: Bearer "+orders[1].AccessToken); resp.Code != http.StatusOK {
		t.Fatalf("the replayed token does not read the order: %d", resp.Code)
	}
	other := placeOrder(t, api, "cyberpunk-2077-gog-global")
	if other.ID == orders[0].ID || other.AccessToken == orders[0].AccessToken {
		t.Fatal("an order without a key was the keyed one")
	}
	body["email"] = "someone-else@example.com"
	if resp := api.Post("/v1/orders", "Idempotency-Key: 0b6a4f8e-retry", body); resp.Code != http.StatusConflict {
		t.Fatalf("key reused for another body: %d %s, want 409", resp.Code, resp.Body)
	}
}
