package http

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

type refundInput struct {
	ID   string `path:"id" maxLength:"64" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order's id"`
	Body struct {
		Reason    string `json:"reason" minLength:"1" maxLength:"500" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$" example:"the customer bought the wrong platform" doc:"Why the order is refunded; free text, no control characters but tab and line breaks"`
		Reference string `json:"reference,omitempty" maxLength:"200" pattern:"^[^\\x00-\\x1f\\x7f]*$" example:"USDT refund tx 0x9f2c…e1, sent 2026-12-07" doc:"How the money went back (keyward does not move it: NOWPayments has no refund call): a transaction id, a ticket; free text, one line"`
	}
}

// KeyOutcomeBody is what a refund did with one key of the order; never the key.
type KeyOutcomeBody struct {
	ItemID          string    `json:"item_id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01" doc:"The order line"`
	Slot            int       `json:"slot" doc:"The key's place in the line (0 for the first key)"`
	Outcome         string    `json:"outcome" enum:"restocked,quarantined,returned,return_refused,not_returnable" doc:"restocked: an own-stock key never revealed is back in the stock; quarantined: a key the customer saw (or a bad one) is destroyed, never sold again; returned: the supplier took it back; return_refused: the supplier was asked and refused (recorded, never asked again); not_returnable: the supplier takes no keys back, or no longer (24 h after delivery)"`
	Detail          string    `json:"detail,omitempty" example:"revealed" doc:"Why, in a few words (the supplier's refusal, the stock key's id)"`
	SupplierOrderID string    `json:"supplier_order_id,omitempty" doc:"The supplier order the key was bought in (own-stock for keys of the own stock)"`
	At              time.Time `json:"at" doc:"When the refund was made (RFC 3339, UTC)"`
}

// keyOutcomes reads each key's refund outcome from the order's timeline.
func keyOutcomes(o *domain.Order) []KeyOutcomeBody {
	var out []KeyOutcomeBody
	for _, e := range o.Timeline() {
		if e.Kind() != domain.EventKindKeyOutcome {
			continue
		}
		m := e.Metadata()
		slot, _ := strconv.Atoi(m["slot"])
		out = append(out, KeyOutcomeBody{ItemID: m["item_id"], Slot: slot, Outcome: m["outcome"], Detail: m["detail"],
			SupplierOrderID: m["supplier_order_id"], At: e.At().UTC()})
	}
	return out
}

type refundOutput struct {
	Body struct {
		OrderBody
		KeyOutcomes []KeyOutcomeBody `json:"key_outcomes" doc:"What the refund did with each key"`
	}
}

func (s *Server) registerRefunds(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-refund-order", Method: http.MethodPost, Path: "/v1/admin/orders/{id}/refund",
		Summary: "Refund a paid order: give back what the customer never saw",
		Description: "Records a refund made outside keyward (reference says how) of a fulfilled, delivered, failed or held order. " +
			"Every delivery link is revoked; own-stock keys never revealed go back into the stock; keys the customer saw are destroyed; " +
			"supplier keys never revealed are offered back to the supplier where it takes them (Kinguin: once per supplier order, within 24 h of delivery). " +
			"The order ends refunded and its data key is destroyed. A second refund answers 409 and changes nothing.",
		Tags: []string{"Admin"}, Security: adminSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *refundInput) (*refundOutput, error) {
		o, err := s.app.Commands.RefundOrder.Handle(ctx, application.RefundCommand{OrderID: in.ID, Reason: in.Body.Reason, Reference: in.Body.Reference, Actor: actorFrom(ctx)})
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &refundOutput{}
		out.Body.OrderBody, out.Body.KeyOutcomes = orderBody(o, adminTimeline), keyOutcomes(o)
		return out, nil
	})
}
