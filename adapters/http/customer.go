package http

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
)

// customerAccessAnswer is the one answer to a sign-in link request, whether
// or not the address has orders.
const customerAccessAnswer = "If this address has orders at keyward, a sign-in link is on its way to it. It works once, for a limited time."

type customerAccessInput struct {
	Body struct {
		Email string `json:"email" format:"email" maxLength:"254" example:"a@example.com" doc:"The address the orders were placed with"`
	}
}

type customerAccessOutput struct {
	Body struct {
		Status string `json:"status" enum:"accepted" example:"accepted" doc:"Always accepted: the answer never tells whether the address has orders"`
		Detail string `json:"detail" example:"If this address has orders at keyward, a sign-in link is on its way to it. It works once, for a limited time." doc:"What happens next, the same for every address"`
	}
}

type customerSessionInput struct {
	Body struct {
		Token string `json:"token" minLength:"1" maxLength:"128" pattern:"^[A-Za-z0-9_-]+$" example:"Qm9vbS1zaWduLWluLXRva2VuLTI1Ni1iaXQtcmFuZG9tLXg" doc:"The token of the sign-in link: what follows /account/ in the email"`
	}
}

type customerSessionOutput struct {
	Body struct {
		AccessToken string    `json:"access_token" example:"cs1.MDE5M2E2MTAtNGQ1ZS03ZjZhLThiN2MtOWQwZTFmMmEzYjRjCjE3NjUwNjUxMDAKYUBleGFtcGxlLmNvbQ.Vt0m8rZb0vQy1n2xK3cJp4sL5dA6fG7hH8jI9kU0lWe" doc:"Send it as 'Authorization: Bearer <access_token>' to read this address's orders; it is not stored and cannot be revoked, so it lives briefly"`
		ExpiresAt   time.Time `json:"expires_at" doc:"When the access token stops working (RFC 3339, UTC)"`
	}
}

// CustomerOrderBody is one of a customer's orders: never a key or a token.
type CustomerOrderBody struct {
	ID          string     `json:"id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order's id"`
	Status      string     `json:"status" example:"delivered" doc:"The order's status, as GET /v1/orders/{id} names it"`
	Total       MoneyBody  `json:"total" doc:"What the order cost"`
	Items       []ItemBody `json:"items" doc:"The order lines"`
	RevealsLeft int        `json:"reveals_left" example:"4" doc:"Reveals the order's delivery links that still work have left; 0 when none works (ask for a new link)"`
	CreatedAt   time.Time  `json:"created_at" doc:"When the order was placed (RFC 3339)"`
	UpdatedAt   time.Time  `json:"updated_at" doc:"When the order last changed (RFC 3339)"`
}

type customerOrdersOutput struct {
	Body struct {
		Items []CustomerOrderBody `json:"items" doc:"The address's orders, newest first (at most 50)"`
	}
}

func customerOrderBody(co application.CustomerOrder) CustomerOrderBody {
	b := orderBody(co.Order, noTimeline)
	return CustomerOrderBody{ID: b.ID, Status: b.Status, Total: b.Total, Items: b.Items, RevealsLeft: co.RevealsLeft,
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
}

func (s *Server) registerCustomer(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "customer-access", Method: http.MethodPost, Path: "/v1/customer/access", DefaultStatus: http.StatusAccepted,
		Summary: "Ask for a sign-in link", Description: "Records the request and answers 202: if the address has orders, an email " +
			"with a link to /account/{token} is on its way; the link signs in once, within KEYWARD_CUSTOMER_LINK_TTL, and shows the " +
			"address's orders. The request does the same work for every address and the link is issued and emailed afterwards, " +
			"apart from it, so neither the answer, nor its time, nor an error tells whether the address has orders (one without " +
			"orders gets no email). Limited per client address and per address asked for.",
		Tags: []string{"Customer"}, Security: publicSecurity,
		Errors: []int{http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *customerAccessInput) (*customerAccessOutput, error) {
		if err := s.limitCustomerAccess(ctx, in.Body.Email); err != nil {
			return nil, err
		}
		if err := s.app.Commands.RequestCustomerAccess.Handle(ctx, in.Body.Email); err != nil {
			return nil, problem(s.log, err)
		}
		out := &customerAccessOutput{}
		out.Body.Status, out.Body.Detail = "accepted", customerAccessAnswer
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "customer-session", Method: http.MethodPost, Path: "/v1/customer/sessions", DefaultStatus: http.StatusCreated,
		Summary: "Sign in with the emailed link", Description: "Uses the sign-in link's token (once) and returns a short-lived " +
			"access token bound to the address (KEYWARD_CUSTOMER_SESSION_TTL). A token that is unknown, expired or used answers 410 alike.",
		Tags: []string{"Customer"}, Security: publicSecurity,
		Errors: []int{http.StatusGone, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *customerSessionInput) (*customerSessionOutput, error) {
		sess, err := s.app.Commands.SignInCustomer.Handle(ctx, in.Body.Token)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &customerSessionOutput{}
		out.Body.AccessToken, out.Body.ExpiresAt = sess.AccessToken, sess.ExpiresAt.UTC()
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "customer-orders", Method: http.MethodGet, Path: "/v1/customer/orders",
		Summary: "List my orders", Description: "The signed-in address's orders, newest first: status, items, dates and the " +
			"reveals left on their working delivery links. Never a key.",
		Tags: []string{"Customer"}, Security: customerSessionSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*customerOrdersOutput, error) {
		orders, err := s.app.Queries.CustomerOrders.Handle(ctx, customerTokenFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &customerOrdersOutput{}
		out.Body.Items = make([]CustomerOrderBody, 0, len(orders))
		for _, co := range orders {
			out.Body.Items = append(out.Body.Items, customerOrderBody(co))
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "customer-resend-delivery-link", Method: http.MethodPost, Path: "/v1/customer/orders/{id}/delivery-link",
		DefaultStatus: http.StatusAccepted,
		Summary:       "Send my keys again", Description: "Emails a fresh delivery link for one of the signed-in address's " +
			"delivered orders and revokes the older ones, with the limits of POST /v1/orders/{id}/delivery-link (KEYWARD_RESEND_LIMIT).",
		Tags: []string{"Customer"}, Security: customerSessionSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *getOrderInput) (*resendOutput, error) {
		link, err := s.app.Commands.ResendCustomerLink.Handle(ctx, customerTokenFrom(ctx), in.ID)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &resendOutput{}
		out.Body.LinkID, out.Body.ExpiresAt = link.ID(), link.ExpiresAt().UTC().Format("2006-01-02T15:04:05Z")
		return out, nil
	})
}

// limitCustomerAccess spends one sign-in link request of the client
// address's budget, then one of the address asked for (hashed, like
// limitOrder's), and answers 429 with Retry-After when either is spent.
// Every address is limited alike, so the 429 tells nothing of its orders.
func (s *Server) limitCustomerAccess(ctx context.Context, email string) error {
	if wait, over := s.customerAccessWait(ctx, email); over {
		return tooManyError(wait, "too many sign-in links asked for; try again after Retry-After seconds")
	}
	return nil
}

// customerAccessWait spends the budgets of limitCustomerAccess and reports
// whether one is spent and how long to wait; the account page shares them.
func (s *Server) customerAccessWait(ctx context.Context, email string) (time.Duration, bool) {
	if wait, over := s.overLimit(ctx, "customer_access_source", clientIP(ctx), s.limits.CustomerAccessPerSource); over {
		return wait, true
	}
	h := sha256.Sum256([]byte(canonicalEmail(email)))
	return s.overLimit(ctx, "customer_access_email", hex.EncodeToString(h[:]), s.limits.CustomerAccessPerEmail)
}
