package http

import (
	"encoding/json"
	"time"

	"github.com/keyward/keyward/domain"
)

const (
	exWebhookEndpointID = "0193a5f0-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	exWebhookID         = "0193a5f3-0a1b-7c2d-8e3f-4a5b6c7d8e9f"
)

func exWebhookEndpoint() WebhookEndpointBody {
	return WebhookEndpointBody{ID: exWebhookEndpointID, URL: "https://shop.example/keyward/webhooks", Events: []string{"order.delivered", "order.paid"},
		Description: "Shop front end", CreatedAt: exAt(-24 * time.Hour), UpdatedAt: exAt(-24 * time.Hour)}
}

func exWebhookMessage(status string, attempts int) WebhookMessageBody {
	m := WebhookMessageBody{ID: "1042", WebhookID: exWebhookID, EndpointID: exWebhookEndpointID, Type: "order.delivered", OrderID: exOrderID,
		Status: status, Attempts: attempts, CreatedAt: exAt(3 * time.Minute),
		Payload: json.RawMessage(`{"type":"order.delivered","timestamp":"` + exAt(3*time.Minute).UTC().Format(time.RFC3339) + `","data":{"order_id":"` + exOrderID + `","status":"delivered"}}`)}
	if status == domain.WebhookPending {
		m.NextAt = ptr(exAt(3 * time.Minute))
	}
	return m
}

func init() {
	secret := func(rotated bool) any {
		b := WebhookSecretBody{WebhookEndpointBody: exWebhookEndpoint(), Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwq2Nt1cYm1Q8="}
		if rotated {
			b.UpdatedAt, b.RotationUntil = exAt(time.Hour), ptr(exAt(25*time.Hour))
		}
		return b
	}
	for id, ex := range map[string]operationExample{
		"admin-list-webhook-event-types": {responses: map[string]any{"200": func() any {
			var out webhookEventTypesOutput
			for _, t := range domain.WebhookEventTypes[:3] {
				out.Body.Items = append(out.Body.Items, webhookEventTypeBody{Name: t.Name, Description: t.Description})
			}
			return out.Body
		}()}},
		"admin-create-webhook-endpoint": {
			request:   map[string]any{"url": "https://shop.example/keyward/webhooks", "events": []string{"order.paid", "order.delivered"}, "description": "Shop front end"},
			responses: map[string]any{"201": secret(false)},
		},
		"admin-list-webhook-endpoints": {responses: map[string]any{"200": map[string]any{"items": []WebhookEndpointBody{exWebhookEndpoint()}}}},
		"admin-get-webhook-endpoint":   {responses: map[string]any{"200": exWebhookEndpoint()}},
		"admin-update-webhook-endpoint": {
			request: map[string]any{"disabled": false},
			responses: map[string]any{"200": func() any {
				b := exWebhookEndpoint()
				b.UpdatedAt = exAt(time.Hour)
				return b
			}()},
		},
		"admin-rotate-webhook-secret": {responses: map[string]any{"200": secret(true)}},
		"admin-test-webhook-endpoint": {responses: map[string]any{"202": func() any {
			m := exWebhookMessage(domain.WebhookPending, 0)
			m.Type, m.OrderID = domain.WebhookTest, ""
			m.Payload = json.RawMessage(`{"type":"webhook.test","timestamp":"` + exAt(3*time.Minute).UTC().Format(time.RFC3339) + `","data":{"endpoint_id":"` + exWebhookEndpointID + `"}}`)
			return m
		}()}},
		"admin-recover-webhook-endpoint": {responses: map[string]any{"202": map[string]any{"recovered": 12}}},
		"admin-list-webhook-messages": {responses: map[string]any{"200": map[string]any{
			"items": []WebhookMessageBody{exWebhookMessage(domain.WebhookDelivered, 3)}, "next_cursor": "1042"}}},
		"admin-get-webhook-message": {responses: map[string]any{"200": func() any {
			var out webhookMessageOutput
			out.Body.WebhookMessageBody = exWebhookMessage(domain.WebhookDelivered, 3)
			out.Body.AttemptLog = []WebhookAttemptBody{
				{At: exAt(3 * time.Minute), DurationMS: 211, HTTPStatus: 500, Response: `{"error":"database busy"}`, Error: "answered 500"},
				{At: exAt(3*time.Minute + 5*time.Second), DurationMS: 10000, Error: "Post: context deadline exceeded"},
				{At: exAt(8*time.Minute + 5*time.Second), DurationMS: 184, HTTPStatus: 200, Response: "ok"},
			}
			return out.Body
		}()}},
		"admin-redeliver-webhook-message": {responses: map[string]any{"202": exWebhookMessage(domain.WebhookPending, 3)}},
	} {
		operationExamples[id] = ex
	}
}
