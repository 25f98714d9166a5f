package http

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// WebhookEndpointBody is a webhook endpoint as the API shows it: never its
// secret, which only creating and rotating return.
type WebhookEndpointBody struct {
	ID            string     `json:"id" example:"0193a5f0-1c2d-7e3f-8a4b-5c6d7e8f9a0b" doc:"The endpoint's id"`
	URL           string     `json:"url" example:"https://shop.example/keyward/webhooks" doc:"Where events are POSTed (https)"`
	Events        []string   `json:"events" example:"[\"order.paid\",\"order.delivered\"]" doc:"The event types it receives (GET /v1/admin/webhooks/event-types), or [\"*\"] for all"`
	Description   string     `json:"description" example:"Shop front end" doc:"A note for people"`
	Disabled      bool       `json:"disabled" doc:"true: nothing is sent to it (set by an admin, or by keyward after KEYWARD_WEBHOOK_DISABLE_AFTER of failures)"`
	FailingSince  *time.Time `json:"failing_since,omitempty" doc:"The first failed attempt of the current run of failures; absent while deliveries succeed"`
	RotationUntil *time.Time `json:"previous_secret_until,omitempty" doc:"Until when the previous secret signs beside the new one, after the last rotation; absent before any"`
	CreatedAt     time.Time  `json:"created_at" doc:"When it was registered (RFC 3339, UTC)"`
	UpdatedAt     time.Time  `json:"updated_at" doc:"When it last changed (RFC 3339, UTC)"`
}

func webhookEndpointBody(e domain.WebhookEndpoint) WebhookEndpointBody {
	b := WebhookEndpointBody{ID: e.ID, URL: e.URL, Events: e.Events, Description: e.Description, Disabled: e.Disabled,
		CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC()}
	if !e.FailingSince.IsZero() {
		b.FailingSince = ptr(e.FailingSince.UTC())
	}
	if e.PreviousSecret != "" {
		b.RotationUntil = ptr(e.PreviousUntil.UTC())
	}
	return b
}

// WebhookSecretBody is an endpoint with its signing secret, shown once.
type WebhookSecretBody struct {
	WebhookEndpointBody
	Secret string `json:"secret" example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwq2Nt1cYm1Q8=" doc:"The signing secret (Standard Webhooks: whsec_ and base64). Shown only now: store it where the receiver verifies signatures"`
}

// WebhookMessageBody is one event on its way to one endpoint.
type WebhookMessageBody struct {
	ID         string          `json:"id" example:"1042" doc:"The message's id in the log"`
	WebhookID  string          `json:"webhook_id" example:"0193a5f3-0a1b-7c2d-8e3f-4a5b6c7d8e9f" doc:"The webhook-id header: the same on every endpoint the event goes to and on every attempt"`
	EndpointID string          `json:"endpoint_id" doc:"The endpoint it goes to"`
	Type       string          `json:"type" example:"order.delivered" doc:"The event type"`
	OrderID    string          `json:"order_id,omitempty" doc:"The order it reports; absent for events of no order"`
	Status     string          `json:"status" enum:"pending,delivered,failed" doc:"pending: waiting for its next attempt; delivered: an attempt got a 2xx; failed: the last scheduled attempt failed"`
	Attempts   int             `json:"attempts" example:"1" doc:"Attempts made"`
	NextAt     *time.Time      `json:"next_attempt_at,omitempty" doc:"When the next attempt is due, while pending"`
	CreatedAt  time.Time       `json:"created_at" doc:"When the event happened and the message was written (RFC 3339, UTC)"`
	Payload    json.RawMessage `json:"payload" doc:"The body sent, exactly as signed"`
}

func webhookMessageBody(m domain.WebhookMessage) WebhookMessageBody {
	b := WebhookMessageBody{ID: m.ID, WebhookID: m.EventID, EndpointID: m.EndpointID, Type: m.Type, OrderID: m.OrderID, Status: m.Status,
		Attempts: m.Attempts, CreatedAt: m.CreatedAt.UTC(), Payload: json.RawMessage(m.Body)}
	if m.Status == domain.WebhookPending {
		b.NextAt = ptr(m.DueAt.UTC())
	}
	return b
}

// WebhookAttemptBody is one attempt at sending a message.
type WebhookAttemptBody struct {
	At         time.Time `json:"at" doc:"When it was sent (RFC 3339, UTC)"`
	DurationMS int64     `json:"duration_ms" example:"184" doc:"How long it took"`
	HTTPStatus int       `json:"http_status,omitempty" example:"200" doc:"The endpoint's status code; absent when none came"`
	Response   string    `json:"response,omitempty" doc:"The first 2 KB of the endpoint's answer"`
	Error      string    `json:"error,omitempty" doc:"Why it failed; absent on success"`
}

type webhookEventTypeBody struct {
	Name        string `json:"name" example:"order.delivered" doc:"The type, resource.action"`
	Description string `json:"description" doc:"What it reports"`
}

type webhookEventTypesOutput struct {
	Body struct {
		Items []webhookEventTypeBody `json:"items" doc:"Every event type an endpoint may subscribe to"`
	}
}

type createWebhookInput struct {
	Body struct {
		URL         string   `json:"url" maxLength:"2048" doc:"Where to POST events: https, resolving to public addresses"`
		Events      []string `json:"events" minItems:"1" maxItems:"64" doc:"Event types to receive, or [\"*\"] for every type (those added later too)"`
		Description string   `json:"description,omitempty" maxLength:"500" doc:"A note for people"`
	}
}

type webhookSecretOutput struct{ Body WebhookSecretBody }

type webhookEndpointInput struct {
	ID string `path:"id" maxLength:"64" doc:"The endpoint's id"`
}

type webhookEndpointOutput struct{ Body WebhookEndpointBody }

type webhookEndpointsOutput struct {
	Body struct {
		Items []WebhookEndpointBody `json:"items" doc:"Oldest first"`
	}
}

type patchWebhookInput struct {
	ID   string `path:"id" maxLength:"64" doc:"The endpoint's id"`
	Body struct {
		URL         *string  `json:"url,omitempty" maxLength:"2048" doc:"A new URL (checked as at registration)"`
		Events      []string `json:"events,omitempty" maxItems:"64" doc:"A new subscription"`
		Description *string  `json:"description,omitempty" maxLength:"500" doc:"A new note"`
		Disabled    *bool    `json:"disabled,omitempty" doc:"false enables it again (and forgets its failures); true stops sending to it"`
	}
}

type recoverWebhooksInput struct {
	ID    string    `path:"id" maxLength:"64" doc:"The endpoint's id"`
	Since time.Time `query:"since" required:"true" doc:"Redeliver every message to it that failed and was created at or after this time (RFC 3339)"`
}

type recoverWebhooksOutput struct {
	Body struct {
		Recovered int `json:"recovered" example:"12" doc:"Failed messages queued again"`
	}
}

type listWebhookMessagesInput struct {
	EndpointID string `query:"endpoint_id" maxLength:"64" doc:"Only messages to this endpoint"`
	Type       string `query:"type" maxLength:"100" doc:"Only events of this type"`
	Status     string `query:"status" enum:"pending,delivered,failed," doc:"Only messages in this status"`
	OrderID    string `query:"order_id" maxLength:"64" doc:"Only messages about this order"`
	Cursor     string `query:"cursor" maxLength:"32" doc:"next_cursor of the previous page"`
	Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Messages per page"`
}

type webhookMessagesOutput struct {
	Body struct {
		Items      []WebhookMessageBody `json:"items" doc:"Newest first"`
		NextCursor *string              `json:"next_cursor" doc:"Pass as cursor for the next page; null at the end"`
	}
}

type webhookMessageInput struct {
	ID string `path:"id" maxLength:"64" doc:"The message's id"`
}

type webhookMessageOutput struct {
	Body struct {
		WebhookMessageBody
		AttemptLog []WebhookAttemptBody `json:"attempt_log" doc:"Every attempt, oldest first"`
	}
}

type webhookMessageOnlyOutput struct{ Body WebhookMessageBody }

// webhooks returns the webhook use cases, or an error a process without
// them answers with.
func (s *Server) webhooks() (*application.Webhooks, error) {
	if s.opts.Webhooks == nil {
		return nil, problem(s.log, application.ErrUnavailable)
	}
	return s.opts.Webhooks, nil
}

// registerWebhookAdmin adds the outbound webhook operations: support reads
// endpoints and the message log; an admin changes them.
func (s *Server) registerWebhookAdmin(api huma.API) {
	const tag = "Webhooks"
	read := func(id, method, path, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc, Tags: []string{tag},
			Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusServiceUnavailable}}
	}
	write := func(id, method, path string, status int, summary, desc string) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, DefaultStatus: status, Summary: summary, Description: desc, Tags: []string{tag},
			Security: adminSecurity, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusServiceUnavailable}}
	}
	// Sending again answers 409 for a disabled endpoint, or a message
	// still on its way.
	resend := func(op huma.Operation) huma.Operation {
		op.Errors = append(op.Errors, http.StatusConflict)
		return op
	}
	huma.Register(api, read("admin-list-webhook-event-types", http.MethodGet, "/v1/admin/webhooks/event-types", "List webhook event types",
		"The catalogue of event types an endpoint may subscribe to; the document's webhooks section gives each one's payload."),
		func(context.Context, *struct{}) (*webhookEventTypesOutput, error) {
			out := &webhookEventTypesOutput{}
			for _, t := range domain.WebhookEventTypes {
				out.Body.Items = append(out.Body.Items, webhookEventTypeBody{Name: t.Name, Description: t.Description})
			}
			return out, nil
		})
	huma.Register(api, write("admin-create-webhook-endpoint", http.MethodPost, "/v1/admin/webhooks/endpoints", http.StatusCreated, "Register a webhook endpoint",
		"Registers a URL that receives the events it subscribes to, signed per Standard Webhooks. The answer carries the signing secret, shown only this once. "+
			"The URL must be https and resolve to public addresses (KEYWARD_WEBHOOK_ALLOW_PRIVATE=true lifts both, for development)."),
		func(ctx context.Context, in *createWebhookInput) (*webhookSecretOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			e, err := w.CreateEndpoint(ctx, actorFrom(ctx), in.Body.URL, in.Body.Events, in.Body.Description)
			if err != nil {
				return nil, problem(s.log, err)
			}
			return &webhookSecretOutput{Body: WebhookSecretBody{WebhookEndpointBody: webhookEndpointBody(e), Secret: e.Secret}}, nil
		})
	huma.Register(api, read("admin-list-webhook-endpoints", http.MethodGet, "/v1/admin/webhooks/endpoints", "List webhook endpoints", "Every endpoint, oldest first, without secrets."),
		func(ctx context.Context, _ *struct{}) (*webhookEndpointsOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			eps, err := w.Endpoints(ctx)
			if err != nil {
				return nil, problem(s.log, err)
			}
			out := &webhookEndpointsOutput{}
			out.Body.Items = make([]WebhookEndpointBody, 0, len(eps))
			for _, e := range eps {
				out.Body.Items = append(out.Body.Items, webhookEndpointBody(e))
			}
			return out, nil
		})
	huma.Register(api, read("admin-get-webhook-endpoint", http.MethodGet, "/v1/admin/webhooks/endpoints/{id}", "Get a webhook endpoint", "One endpoint, without its secret."),
		func(ctx context.Context, in *webhookEndpointInput) (*webhookEndpointOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			e, err := w.Endpoint(ctx, in.ID)
			if err != nil {
				return nil, problem(s.log, err)
			}
			return &webhookEndpointOutput{Body: webhookEndpointBody(e)}, nil
		})
	huma.Register(api, write("admin-update-webhook-endpoint", http.MethodPatch, "/v1/admin/webhooks/endpoints/{id}", http.StatusOK, "Change a webhook endpoint",
		"Changes the fields given: url, events, description, disabled."),
		func(ctx context.Context, in *patchWebhookInput) (*webhookEndpointOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			e, err := w.UpdateEndpoint(ctx, actorFrom(ctx), in.ID, application.WebhookPatch{URL: in.Body.URL, Events: in.Body.Events,
				Description: in.Body.Description, Disabled: in.Body.Disabled})
			if err != nil {
				return nil, problem(s.log, err)
			}
			return &webhookEndpointOutput{Body: webhookEndpointBody(e)}, nil
		})
	huma.Register(api, write("admin-delete-webhook-endpoint", http.MethodDelete, "/v1/admin/webhooks/endpoints/{id}", http.StatusNoContent, "Delete a webhook endpoint",
		"Removes the endpoint and its message log; nothing more is sent to it."),
		func(ctx context.Context, in *webhookEndpointInput) (*struct{}, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			return nil, problem(s.log, w.DeleteEndpoint(ctx, actorFrom(ctx), in.ID))
		})
	huma.Register(api, write("admin-rotate-webhook-secret", http.MethodPost, "/v1/admin/webhooks/endpoints/{id}/rotate-secret", http.StatusOK, "Rotate a webhook signing secret",
		"Gives the endpoint a new secret, shown only now. The previous one keeps signing beside it (webhook-signature then holds two signatures) for "+
			"KEYWARD_WEBHOOK_SECRET_OVERLAP, so that the receiver can switch without losing a message."),
		func(ctx context.Context, in *webhookEndpointInput) (*webhookSecretOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			e, err := w.RotateSecret(ctx, actorFrom(ctx), in.ID)
			if err != nil {
				return nil, problem(s.log, err)
			}
			return &webhookSecretOutput{Body: WebhookSecretBody{WebhookEndpointBody: webhookEndpointBody(e), Secret: e.Secret}}, nil
		})
	huma.Register(api, resend(write("admin-test-webhook-endpoint", http.MethodPost, "/v1/admin/webhooks/endpoints/{id}/test", http.StatusAccepted, "Send a test event",
		"Queues a webhook.test event for this endpoint alone, sent at once; its message shows how it went. A disabled endpoint answers 409: enable it first.")),
		func(ctx context.Context, in *webhookEndpointInput) (*webhookMessageOnlyOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			m, err := w.SendTest(ctx, actorFrom(ctx), in.ID)
			if err != nil {
				return nil, problem(s.log, err)
			}
			return &webhookMessageOnlyOutput{Body: webhookMessageBody(m)}, nil
		})
	huma.Register(api, resend(write("admin-recover-webhook-endpoint", http.MethodPost, "/v1/admin/webhooks/endpoints/{id}/recover", http.StatusAccepted, "Redeliver failed messages",
		"Queues again every message to this endpoint that failed and was created since the given time, each with its webhook-id: "+
			"also the events that happened while the endpoint was disabled, which are kept as failed with no attempt. "+
			"A disabled endpoint answers 409: enable it first.")),
		func(ctx context.Context, in *recoverWebhooksInput) (*recoverWebhooksOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			n, err := w.Recover(ctx, actorFrom(ctx), in.ID, in.Since)
			if err != nil {
				return nil, problem(s.log, err)
			}
			out := &recoverWebhooksOutput{}
			out.Body.Recovered = n
			return out, nil
		})
	huma.Register(api, read("admin-list-webhook-messages", http.MethodGet, "/v1/admin/webhooks/messages", "List webhook messages",
		"The delivery log, newest first, filtered by endpoint, type, status and order, a page at a time."),
		func(ctx context.Context, in *listWebhookMessagesInput) (*webhookMessagesOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			ms, err := w.Messages(ctx, ports.WebhookMessageQuery{EndpointID: in.EndpointID, Type: in.Type, Status: in.Status, OrderID: in.OrderID,
				After: in.Cursor, Limit: in.Limit + 1})
			if err != nil {
				return nil, problem(s.log, err)
			}
			out := &webhookMessagesOutput{}
			if len(ms) > in.Limit {
				ms = ms[:in.Limit]
				out.Body.NextCursor = ptr(ms[len(ms)-1].ID)
			}
			out.Body.Items = make([]WebhookMessageBody, 0, len(ms))
			for _, m := range ms {
				out.Body.Items = append(out.Body.Items, webhookMessageBody(m))
			}
			return out, nil
		})
	huma.Register(api, read("admin-get-webhook-message", http.MethodGet, "/v1/admin/webhooks/messages/{id}", "Get a webhook message", "One message with every attempt made."),
		func(ctx context.Context, in *webhookMessageInput) (*webhookMessageOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			m, attempts, err := w.Message(ctx, in.ID)
			if err != nil {
				return nil, problem(s.log, err)
			}
			out := &webhookMessageOutput{}
			out.Body.WebhookMessageBody = webhookMessageBody(m)
			out.Body.AttemptLog = make([]WebhookAttemptBody, 0, len(attempts))
			for _, a := range attempts {
				out.Body.AttemptLog = append(out.Body.AttemptLog, WebhookAttemptBody{At: a.At.UTC(), DurationMS: a.Duration.Milliseconds(),
					HTTPStatus: a.HTTPStatus, Response: a.Response, Error: a.Error})
			}
			return out, nil
		})
	huma.Register(api, resend(write("admin-redeliver-webhook-message", http.MethodPost, "/v1/admin/webhooks/messages/{id}/redeliver", http.StatusAccepted, "Redeliver a webhook message",
		"Queues one more attempt of a delivered or failed message, with the same webhook-id, sent at once. A message still pending "+
			"(waiting for an attempt or being sent) or one to a disabled endpoint answers 409.")),
		func(ctx context.Context, in *webhookMessageInput) (*webhookMessageOnlyOutput, error) {
			w, err := s.webhooks()
			if err != nil {
				return nil, err
			}
			m, err := w.Redeliver(ctx, actorFrom(ctx), in.ID)
			if err != nil {
				return nil, problem(s.log, err)
			}
			return &webhookMessageOnlyOutput{Body: webhookMessageBody(m)}, nil
		})
	documentWebhookEvents(api)
}

// documentWebhookEvents lists every event type in the document's
// webhooks section (OpenAPI 3.1) with the payload it carries.
func documentWebhookEvents(api huma.API) {
	doc := api.OpenAPI()
	if doc.Webhooks == nil {
		doc.Webhooks = map[string]*huma.PathItem{}
	}
	headers := []*huma.Param{
		{Name: "webhook-id", In: "header", Required: true, Description: "The event's id: the same on every endpoint and every attempt; deduplicate on it.", Schema: &huma.Schema{Type: "string"}},
		{Name: "webhook-timestamp", In: "header", Required: true, Description: "When this attempt was sent, unix seconds; refuse one too far from now.", Schema: &huma.Schema{Type: "string"}},
		{Name: "webhook-signature", In: "header", Required: true, Description: "Space-separated v1,<base64 HMAC-SHA256 of \"{webhook-id}.{webhook-timestamp}.{body}\"> under the endpoint's secret; two during a rotation. Verify with a Standard Webhooks library.", Schema: &huma.Schema{Type: "string"}},
	}
	for _, t := range domain.WebhookEventTypes {
		data := &huma.Schema{Type: "object", Description: "Thin: ids, statuses, amounts; never a key, delivery token, link or secret. Read the order through the API for more.",
			Properties: map[string]*huma.Schema{}}
		if t.Name != domain.WebhookTest && (len(t.Name) > 6 && t.Name[:6] == "order.") {
			data.Properties["order_id"] = &huma.Schema{Type: "string", Description: "The order's id"}
			data.Properties["status"] = &huma.Schema{Type: "string", Description: "The order's status the event reports"}
			reasons := make([]any, 0, len(domain.WebhookReasonCodes))
			for _, r := range domain.WebhookReasonCodes {
				reasons = append(reasons, r)
			}
			data.Properties["reason"] = &huma.Schema{Type: "string", Enum: reasons, Description: "Why, as a code, when the event has a reason " +
				"(failed, needs_review, revoked, underpaid); the reason's text is in the order's detail (GET /v1/admin/orders/{id})"}
			data.Required = []string{"order_id"}
		}
		if t.Name == domain.WebhookKeyReturned {
			data.Properties["order_id"] = &huma.Schema{Type: "string", Description: "The refunded order's id"}
			data.Properties["supplier_order_id"] = &huma.Schema{Type: "string", Description: "The supplier order whose keys the supplier took back"}
			data.Required = []string{"order_id", "supplier_order_id"}
		}
		if t.Name == domain.WebhookOrderPreordered {
			data.Properties["item_id"] = &huma.Schema{Type: "string", Description: "The order item bought as a pre-order"}
			data.Properties["release_date"] = &huma.Schema{Type: "string", Format: "date", Description: "The day its keys are released (YYYY-MM-DD, UTC); absent while the supplier names no date"}
			data.Required = []string{"order_id", "item_id"}
		}
		if t.Name == domain.WebhookTest {
			data.Properties["endpoint_id"] = &huma.Schema{Type: "string", Description: "The endpoint the test was sent to"}
		}
		schema := &huma.Schema{Type: "object", Required: []string{"type", "timestamp", "data"}, Properties: map[string]*huma.Schema{
			"type":      {Type: "string", Enum: []any{t.Name}, Description: "The event type"},
			"timestamp": {Type: "string", Format: "date-time", Description: "When it happened (RFC 3339); messages are not delivered in order, this orders them"},
			"data":      data,
		}}
		doc.Webhooks[t.Name] = &huma.PathItem{Post: &huma.Operation{
			OperationID: "webhook-" + t.Name, Summary: t.Name, Description: t.Description, Tags: []string{"Webhooks"}, Parameters: headers,
			Security:    publicSecurity, // keyward calls the shop: the signature authenticates it
			RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/json": {Schema: schema}}},
			Responses: map[string]*huma.Response{
				"200": {Description: "Any 2xx within KEYWARD_WEBHOOK_TIMEOUT acknowledges it; anything else is retried (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with jitter)."},
				"401": {Description: "The receiver refuses a request whose signature does not verify; like any answer but a 2xx, it is retried."},
			},
		}}
	}
}
