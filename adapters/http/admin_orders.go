package http

import (
	"context"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
)

type adminListOrdersInput struct {
	Status      string    `query:"status" enum:"awaiting_payment_setup,pending_payment,paid,fulfilling,fulfilled,delivered,underpaid,expired,failed,revoked,refunded,needs_review" doc:"Only orders in this status"`
	Email       string    `query:"email" maxLength:"254" doc:"Only the orders of this customer address"`
	CreatedFrom time.Time `query:"created_from" doc:"Only orders placed at or after this time (RFC 3339)"`
	CreatedTo   time.Time `query:"created_to" doc:"Only orders placed before this time (RFC 3339)"`
	Cursor      string    `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit       int       `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Orders per page"`
}

type adminListOrdersOutput struct {
	Body struct {
		Items      []OrderBody `json:"items" doc:"Newest first, without timelines (read one order for its detail)"`
		NextCursor *string     `json:"next_cursor" doc:"Pass as cursor for the next page; null at the end"`
	}
}

// NotificationBody is a payment notification as received, without its body.
type NotificationBody struct {
	Provider   string    `json:"provider" example:"nowpayments" doc:"The gateway that sent it"`
	PaymentID  string    `json:"payment_id" example:"5077125051" doc:"The gateway's payment id"`
	Status     string    `json:"status" example:"finished" doc:"The payment status it reported (waiting, confirming, confirmed, sending, partially_paid, finished, failed, expired, refunded)"`
	BodySHA256 string    `json:"body_sha256" doc:"Hex SHA-256 of the signed body"`
	ReceivedAt time.Time `json:"received_at" doc:"When keyward received it (RFC 3339, UTC)"`
}

// DeliveryLinkBody is a delivery link's state; never its token.
type DeliveryLinkBody struct {
	ID          string    `json:"id" example:"0193a5d0-11aa-7c3e-8d2b-5e6f7a8b9c0d" doc:"The link's id (UUID)"`
	State       string    `json:"state" enum:"active,expired,revoked,used_up" doc:"active: it reveals; expired: past expires_at; revoked: replaced by a newer link or the order was revoked; used_up: no reveals left"`
	CreatedAt   time.Time `json:"created_at" doc:"When the link was made (RFC 3339, UTC)"`
	ExpiresAt   time.Time `json:"expires_at" doc:"When it stops revealing (RFC 3339, UTC)"`
	MaxReveals  int       `json:"max_reveals" example:"5" doc:"Reveals it allows in all"`
	RevealsUsed int       `json:"reveals_used" doc:"Reveals done"`
}

// OrderDetailBody is an order as operators see it: with its whole
// timeline, its payment notifications and its delivery links.
type OrderDetailBody struct {
	OrderBody
	Notifications []NotificationBody `json:"payment_notifications" doc:"The gateway's notifications for the order, as received"`
	Links         []DeliveryLinkBody `json:"delivery_links" doc:"Every delivery link made for the order"`
	KeyOutcomes   []KeyOutcomeBody   `json:"key_outcomes,omitempty" doc:"For a refunded order: what the refund did with each key"`
}

type orderDetailOutput struct {
	Body OrderDetailBody
}

func orderDetailBody(d application.OrderDetail) OrderDetailBody {
	b := OrderDetailBody{OrderBody: orderBody(d.Order, adminTimeline),
		Notifications: make([]NotificationBody, 0, len(d.Notifications)), Links: make([]DeliveryLinkBody, 0, len(d.Links)), KeyOutcomes: keyOutcomes(d.Order)}
	for _, n := range d.Notifications {
		b.Notifications = append(b.Notifications, NotificationBody{Provider: n.Provider, PaymentID: n.PaymentID, Status: n.Status,
			BodySHA256: hex.EncodeToString(n.BodySHA256[:]), ReceivedAt: n.ReceivedAt.UTC()})
	}
	for _, l := range d.Links {
		b.Links = append(b.Links, DeliveryLinkBody{ID: l.ID, State: l.State, CreatedAt: l.CreatedAt.UTC(), ExpiresAt: l.ExpiresAt.UTC(),
			MaxReveals: l.MaxReveals, RevealsUsed: l.RevealsUsed})
	}
	return b
}

// registerAdminOrders adds the support desk's order list and order detail.
func (s *Server) registerAdminOrders(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-orders", Method: http.MethodGet, Path: "/v1/admin/orders",
		Summary: "List orders", Description: "Newest first, filtered by status, customer email and placing time, a page at a time.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *adminListOrdersInput) (*adminListOrdersOutput, error) {
		page, err := s.app.Queries.ListOrders.Handle(ctx, application.OrderFilter{Status: in.Status, Email: in.Email,
			CreatedFrom: in.CreatedFrom, CreatedTo: in.CreatedTo, Cursor: in.Cursor, Limit: in.Limit})
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &adminListOrdersOutput{}
		out.Body.Items = make([]OrderBody, 0, len(page.Orders))
		for _, o := range page.Orders {
			out.Body.Items = append(out.Body.Items, orderBody(o, noTimeline))
		}
		if page.NextCursor != "" {
			out.Body.NextCursor = &page.NextCursor
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-get-order", Method: http.MethodGet, Path: "/v1/admin/orders/{id}",
		Summary: "Get any order with its timeline, payment notifications and delivery links",
		Tags:    []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, func(ctx context.Context, in *adminOrderInput) (*orderDetailOutput, error) {
		d, err := s.app.Queries.OrderDetail.Handle(ctx, in.ID)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &orderDetailOutput{Body: orderDetailBody(d)}, nil
	})
}
