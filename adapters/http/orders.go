package http

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

type orderLineBody struct {
	SKU      string `json:"sku" minLength:"1" maxLength:"64" pattern:"^[^\\x00-\\x1f\\x7f]+$" doc:"The product's sku; no control characters" example:"cyberpunk-2077-gog-global"`
	Quantity int    `json:"quantity" minimum:"1" maximum:"10" example:"1" doc:"Keys of this product to buy"`
}

type placeOrderInput struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" pattern:"^[\\x21-\\x7e]+$" doc:"A unique key per order the client means to place (e.g. a UUID): a retry with the same key and body returns the same order and access token instead of a second order; the same key with another body is refused with 409"`
	Body           struct {
		Email string          `json:"email" format:"email" maxLength:"254" example:"a@example.com" doc:"The customer's address: the delivery link is emailed there"`
		Items []orderLineBody `json:"items" minItems:"1" maxItems:"10" doc:"What to buy: one line per product"`
	}
}

type orderOutput struct {
	Body OrderBody
}

// placedOrderOutput answers 201 with the payment to make, or 202 while the
// payment is still being set up.
type placedOrderOutput struct {
	Status int
	Body   OrderBody
}

type getOrderInput struct {
	ID string `path:"id" maxLength:"64" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order's id, as placing it returned"`
}

type resendOutput struct {
	Body struct {
		LinkID    string `json:"link_id" example:"0193a5d0-11aa-7c3e-8d2b-5e6f7a8b9c0d" doc:"The new link's id (its token is only in the email)"`
		ExpiresAt string `json:"expires_at" example:"2026-12-06T23:45:00Z" doc:"When the new link stops revealing (RFC 3339, UTC)"`
	}
}

func (s *Server) registerOrders(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "place-order", Method: http.MethodPost, Path: "/v1/orders", DefaultStatus: http.StatusCreated,
		Summary: "Place an order", Description: "Prices the items, creates a crypto payment and returns the order with its access token. " +
			"When the payment provider cannot be reached the order is kept all the same and answered with 202: its payment " +
			"block says \"not_set_up\" until the payment exists; poll GET /v1/orders/{id} with the access token.",
		Tags: []string{"Orders"}, Security: publicSecurity,
		Responses: map[string]*huma.Response{strconv.Itoa(http.StatusAccepted): {
			Description: "Accepted: the order is stored, its payment is being set up.",
			Content: map[string]*huma.MediaType{"application/json": {
				Schema: api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[OrderBody](), true, ""),
			}},
		}},
		Errors: []int{http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *placeOrderInput) (*placedOrderOutput, error) {
		cmd := application.PlaceOrderCommand{Email: in.Body.Email, IdempotencyKey: in.IdempotencyKey,
			Admit: func(ctx context.Context) error { return s.limitOrder(ctx, in.Body.Email) }}
		for _, it := range in.Body.Items {
			cmd.Lines = append(cmd.Lines, application.PlaceOrderLine{SKU: it.SKU, Quantity: it.Quantity})
		}
		placed, err := s.app.Commands.PlaceOrder.Handle(ctx, cmd)
		var limited huma.StatusError
		if errors.As(err, &limited) { // Admit's 429, already a problem
			return nil, err
		}
		if err != nil {
			return nil, problem(s.log, err)
		}
		body := orderBody(placed.Order, noTimeline)
		body.AccessToken = placed.AccessToken
		status := http.StatusCreated
		if placed.Order.Status() == domain.StatusAwaitingPaymentSetup {
			status = http.StatusAccepted
		}
		return &placedOrderOutput{Status: status, Body: body}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-order", Method: http.MethodGet, Path: "/v1/orders/{id}",
		Summary: "Get an order", Tags: []string{"Orders"}, Security: orderTokenSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *getOrderInput) (*orderOutput, error) {
		o, err := s.app.Queries.GetOrder.Handle(ctx, in.ID, orderTokenFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &orderOutput{Body: orderBody(o, customerTimeline)}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "resend-delivery-link", Method: http.MethodPost, Path: "/v1/orders/{id}/delivery-link",
		DefaultStatus: http.StatusAccepted,
		Summary:       "Re-send the delivery link", Description: "Emails a fresh link for a delivered order and revokes the older ones.",
		Tags: []string{"Orders"}, Security: orderTokenSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *getOrderInput) (*resendOutput, error) {
		link, err := s.app.Commands.ResendDeliveryLink.Handle(ctx, in.ID, orderTokenFrom(ctx), "")
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &resendOutput{}
		out.Body.LinkID, out.Body.ExpiresAt = link.ID(), link.ExpiresAt().UTC().Format("2006-01-02T15:04:05Z")
		return out, nil
	})
}
