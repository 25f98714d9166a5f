package http

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

type adminOrderInput struct {
	ID string `path:"id" maxLength:"64" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order's id"`
}

type revokeInput struct {
	ID   string `path:"id" maxLength:"64" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order's id"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$" doc:"Why the keys are revoked; no control characters but tab and line breaks"`
	}
}

type rotateOutput struct {
	Body struct {
		KeyVersion       int  `json:"key_version" doc:"The key version every data key is now wrapped under"`
		Rewrapped        int  `json:"rewrapped" doc:"Data keys rewrapped by this run"`
		MinVersionRaised bool `json:"min_version_raised" doc:"The vault now refuses versions below key_version-1"`
		Unreadable       int  `json:"unreadable" doc:"Data keys that no longer open and were left as they are (see the audit log)"`
	}
}

func (s *Server) registerAdmin(api huma.API) {
	errs := []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict}
	s.registerAdminOrders(api)
	s.registerReports(api)
	s.registerStock(api)
	s.registerRefunds(api)
	huma.Register(api, huma.Operation{
		OperationID: "admin-retry-fulfilment", Method: http.MethodPost, Path: "/v1/admin/orders/{id}/retry-fulfilment",
		DefaultStatus: http.StatusAccepted, Summary: "Retry fulfilment of a failed or stuck order",
		Tags: []string{"Admin"}, Security: adminSecurity, Errors: errs,
	}, func(ctx context.Context, in *adminOrderInput) (*orderOutput, error) {
		o, err := s.app.Commands.RetryFulfilment.Handle(ctx, in.ID, actorFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &orderOutput{Body: orderBody(o, adminTimeline)}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-revoke-order", Method: http.MethodPost, Path: "/v1/admin/orders/{id}/revoke",
		Summary: "Revoke an order's keys (crypto-shredding)", Tags: []string{"Admin"}, Security: adminSecurity, Errors: errs,
	}, func(ctx context.Context, in *revokeInput) (*orderOutput, error) {
		reason := "revoked by admin"
		if in.Body != nil && in.Body.Reason != "" {
			reason = in.Body.Reason
		}
		o, err := s.app.Commands.RevokeOrder.Handle(ctx, in.ID, reason, actorFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &orderOutput{Body: orderBody(o, adminTimeline)}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-resend-delivery", Method: http.MethodPost, Path: "/v1/admin/orders/{id}/resend-delivery",
		DefaultStatus: http.StatusAccepted, Summary: "Re-send the delivery link of any order",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: append(errs, http.StatusTooManyRequests, http.StatusServiceUnavailable),
	}, func(ctx context.Context, in *adminOrderInput) (*resendOutput, error) {
		link, err := s.app.Commands.ResendDeliveryLink.Handle(ctx, in.ID, "", actorFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &resendOutput{}
		out.Body.LinkID, out.Body.ExpiresAt = link.ID(), link.ExpiresAt().UTC().Format("2006-01-02T15:04:05Z")
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-rotate-keys", Method: http.MethodPost, Path: "/v1/admin/keys/rotate",
		Summary:     "Rotate the vault key and rewrap every data key",
		Description: "Resumable and safe while serving: a failed run can be repeated and rewraps what is left.",
		Tags:        []string{"Admin"}, Security: adminSecurity, Errors: []int{http.StatusUnauthorized, http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*rotateOutput, error) {
		res, err := s.app.Commands.RotateKeys.Handle(ctx, actorFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &rotateOutput{}
		out.Body.KeyVersion, out.Body.Rewrapped, out.Body.MinVersionRaised = res.Version, res.Rewrapped, res.Floor
		out.Body.Unreadable = res.Unreadable
		return out, nil
	})
}
