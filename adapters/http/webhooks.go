package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/ports"
)

type nowpaymentsInput struct {
	Signature string `header:"x-nowpayments-sig" doc:"Hex HMAC-SHA512 of the key-sorted JSON body under the IPN secret"`
	RawBody   []byte `contentType:"application/json"`
}

type webhookOutput struct {
	Body struct {
		Status      string `json:"status" example:"ok" doc:"Always ok: the notification was accepted (see duplicate and ignored)"`
		OrderStatus string `json:"order_status,omitempty" example:"paid" doc:"The order's status after the notification"`
		Duplicate   bool   `json:"duplicate" doc:"true when this exact notification was received before and nothing was done again"`
		Ignored     bool   `json:"ignored,omitempty" doc:"Recorded without moving the order: an unknown status, or an unconfirmed payment"`
	}
}

func (s *Server) registerWebhooks(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "nowpayments-ipn", Method: http.MethodPost, Path: "/v1/webhooks/nowpayments",
		Summary: "NOWPayments IPN", Description: "Verifies the signature on the raw body, stores the notification once and moves the order.",
		Tags: []string{"Webhooks"}, MaxBodyBytes: s.opts.MaxWebhookBytes, SkipValidateBody: true,
		// Authenticated by the body's signature header, not by a scheme.
		Security: publicSecurity,
		RequestBody: &huma.RequestBody{Description: "The notification exactly as NOWPayments sent it. " +
			"The signature covers these bytes: forward them untouched."},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict,
			http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *nowpaymentsInput) (*webhookOutput, error) {
		res, err := s.app.Commands.HandlePayment.Handle(ctx, in.RawBody, in.Signature)
		if err != nil {
			return nil, s.webhookProblem(ctx, err)
		}
		out := &webhookOutput{}
		out.Body.Status, out.Body.OrderStatus, out.Body.Duplicate, out.Body.Ignored = "ok", res.Status.String(), res.Duplicate, res.Ignored
		return out, nil
	})
	// Huma documents a raw body as a binary string (with a 3.1-only
	// contentMediaType the 3.0 downgrade keeps); this one is a JSON object.
	body := api.OpenAPI().Paths["/v1/webhooks/nowpayments"].Post.RequestBody.Content["application/json"]
	body.Schema = &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true,
		Description: "A NOWPayments payment notification (payment_id, payment_status, order_id, amounts and currencies)."}
}

// webhookProblem answers a webhook that failed. One that failed
// verification spends its source's failure budget and, once that is
// spent, is answered 429 instead of 401; a verified notification never
// reaches the limiter, so a sale's burst of them is never turned away.
func (s *Server) webhookProblem(ctx context.Context, err error) error {
	if errors.Is(err, ports.ErrSignatureInvalid) {
		if wait, over := s.overLimit(ctx, "webhook", clientIP(ctx), s.limits.WebhookFailures); over {
			return tooManyError(wait, "too many notifications that failed verification from this address; try again after Retry-After seconds")
		}
	}
	return problem(s.log, err)
}
