package http

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/safecsv"
	"github.com/keyward/keyward/ports"
)

type openClaimInput struct {
	Token string `path:"token" maxLength:"128" doc:"The delivery token from any email link of the order (an expired one too)"`
	Body  struct {
		ItemID  string `json:"item_id" minLength:"1" maxLength:"64" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01" doc:"The order item whose key does not work (items[].id of the order)"`
		Reason  string `json:"reason" enum:"not_working,already_used,wrong_region,other" example:"already_used" doc:"not_working: the platform refuses the key; already_used: it was redeemed before; wrong_region: it does not work in the customer's region; other: see message"`
		Message string `json:"message,omitempty" maxLength:"2000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$" example:"Steam says: this product code has already been activated." doc:"The customer's words: what the platform said; no control characters but tab and line breaks"`
	}
}

// ClaimBody is a claim that a revealed key does not work.
type ClaimBody struct {
	ID        string    `json:"id" example:"0193a6f0-2b1c-7d3e-9f4a-5b6c7d8e9f00" doc:"The claim's id"`
	OrderID   string    `json:"order_id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00" doc:"The order claimed on"`
	ItemID    string    `json:"item_id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01" doc:"The order item whose key the customer says does not work"`
	Status    string    `json:"status" enum:"open,approved,rejected" example:"open" doc:"open: waiting for support; approved: the key was replaced; rejected: the customer was sent support's message"`
	Reason    string    `json:"reason" enum:"not_working,already_used,wrong_region,other" example:"already_used" doc:"Why the customer says the key does not work"`
	Message   string    `json:"message" example:"Steam says: this product code has already been activated." doc:"The customer's words"`
	CreatedAt time.Time `json:"created_at" doc:"When the claim was opened (RFC 3339, UTC)"`
}

func claimBody(c *domain.Claim) ClaimBody {
	return ClaimBody{ID: c.ID(), OrderID: c.OrderID(), ItemID: c.ItemID(), Status: c.Status().String(), Reason: c.Reason().String(),
		Message: c.Message(), CreatedAt: c.CreatedAt().UTC()}
}

type claimOutput struct {
	Body ClaimBody
}

type adminListClaimsInput struct {
	Status  string `query:"status" enum:"open,approved,rejected" doc:"Only claims in this status"`
	OrderID string `query:"order_id" maxLength:"64" doc:"Only the claims on this order"`
	Cursor  string `query:"cursor" maxLength:"200" doc:"next_cursor of the previous page"`
	Limit   int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Claims per page"`
}

type adminListClaimsOutput struct {
	Body struct {
		Items      []ClaimBody `json:"items" doc:"Newest first"`
		NextCursor *string     `json:"next_cursor" doc:"Pass as cursor for the next page; null at the end"`
	}
}

type adminClaimInput struct {
	ID string `path:"id" maxLength:"64" example:"0193a6f0-2b1c-7d3e-9f4a-5b6c7d8e9f00" doc:"The claim's id"`
}

// ClaimDecisionBody is how a claim was decided.
type ClaimDecisionBody struct {
	DecidedAt time.Time `json:"decided_at" doc:"When support decided (RFC 3339, UTC)"`
	DecidedBy string    `json:"decided_by" example:"admin:0193a400-0000-7000-8000-000000000001" doc:"The admin key that decided"`
	Source    string    `json:"source,omitempty" enum:"stock,supplier" example:"stock" doc:"Where the replacement came from, for an approval"`
	Note      string    `json:"note" example:"Supplier batch 2026-11 reported by two customers." doc:"The approval's note, or the message the customer was sent on a rejection"`
	Forced    bool      `json:"forced" doc:"The approval went beyond KEYWARD_MAX_REPLACEMENTS"`
}

// ClaimItemBody is the claimed item: where its keys came from, never a key.
type ClaimItemBody struct {
	ID              string `json:"id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01" doc:"The order item's id"`
	SKU             string `json:"sku" example:"cyberpunk-2077-gog-global" doc:"The product"`
	Name            string `json:"name" example:"Cyberpunk 2077" doc:"The product's name when the order was placed"`
	Quantity        int    `json:"quantity" example:"1" doc:"Keys the line bought"`
	BoughtFrom      string `json:"bought_from" example:"kinguin" doc:"The supplier the keys were bought from; empty for keys from the own stock"`
	SupplierOrderID string `json:"supplier_order_id" example:"PHS84FJAG5U" doc:"The supplier's order id, for a dispute; own-stock for keys from the own stock"`
	Keys            int    `json:"keys" example:"1" doc:"Keys the customer is shown now"`
	BadKeys         int    `json:"bad_keys" example:"0" doc:"Keys replaced on approved claims, kept sealed as evidence and never shown again"`
	Replacements    int    `json:"replacements" example:"0" doc:"Approved claims on the item so far"`
}

// ClaimRevealBody is one reveal of the claimed item's keys.
type ClaimRevealBody struct {
	At        time.Time `json:"at" doc:"When the keys were revealed (RFC 3339, UTC)"`
	LinkID    string    `json:"link_id" example:"0193a5d0-11aa-7c3e-8d2b-5e6f7a8b9c0d" doc:"The delivery link used"`
	IP        string    `json:"ip" example:"203.0.113.7" doc:"The client address that revealed"`
	UserAgent string    `json:"user_agent" example:"Mozilla/5.0 (Windows NT 10.0; Win64; x64)" doc:"The browser that revealed"`
	First     bool      `json:"first" doc:"The link's first reveal"`
}

// ClaimDetailBody is a claim with what support decides it on.
type ClaimDetailBody struct {
	ClaimBody
	Decision *ClaimDecisionBody `json:"decision,omitempty" doc:"How the claim was decided; absent while open"`
	Order    OrderBody          `json:"order" doc:"The order, without its timeline (GET /v1/admin/orders/{id} has it)"`
	Item     ClaimItemBody      `json:"item" doc:"The claimed item and where its keys came from"`
	Reveals  []ClaimRevealBody  `json:"reveals" doc:"Every reveal of the item's keys, oldest first"`
}

type claimDetailOutput struct {
	Body ClaimDetailBody
}

func claimDetailBody(d application.ClaimDetail) ClaimDetailBody {
	s := d.Claim.Snapshot()
	b := ClaimDetailBody{ClaimBody: claimBody(d.Claim), Order: orderBody(d.Order, noTimeline), Reveals: make([]ClaimRevealBody, 0, len(d.Reveals)),
		Item: ClaimItemBody{ID: d.Item.ID(), SKU: d.Item.SKU(), Name: d.Item.Name(), Quantity: d.Item.Quantity(), BoughtFrom: d.Item.BoughtFrom(),
			SupplierOrderID: d.Item.SupplierOrderID(), Keys: len(d.Item.CurrentKeys()), BadKeys: len(d.Item.BadKeys()), Replacements: d.Replacements}}
	if s.DecidedAt != nil {
		b.Decision = &ClaimDecisionBody{DecidedAt: s.DecidedAt.UTC(), DecidedBy: s.DecidedBy, Source: s.Source.String(), Note: s.Note, Forced: s.Forced}
	}
	for _, r := range d.Reveals {
		a := r.Access()
		b.Reveals = append(b.Reveals, ClaimRevealBody{At: r.At().UTC(), LinkID: r.LinkID(), IP: a.IP, UserAgent: a.UserAgent, First: r.First()})
	}
	return b
}

type approveClaimInput struct {
	ID   string `path:"id" maxLength:"64" example:"0193a6f0-2b1c-7d3e-9f4a-5b6c7d8e9f00" doc:"The claim's id"`
	Body struct {
		Source string `json:"source" enum:"stock,supplier" example:"stock" doc:"Where the replacement comes from: stock takes it from the product's own stock; supplier buys it from the supplier the item was bought from, within the price guard (KEYWARD_MIN_MARGIN)"`
		Note   string `json:"note,omitempty" maxLength:"2000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$" example:"Supplier batch 2026-11 reported by two customers." doc:"For the record; the customer is not sent it"`
		Force  bool   `json:"force,omitempty" doc:"Replace even though the item had KEYWARD_MAX_REPLACEMENTS replacements already"`
	}
}

type approveClaimOutput struct {
	Body struct {
		Claim       ClaimBody `json:"claim" doc:"The claim, approved"`
		Emailed     bool      `json:"emailed" doc:"Whether the customer was emailed a delivery link revealing the replacement; when false, re-send the delivery link (POST /v1/admin/orders/{id}/resend-delivery): it reveals the replacement too"`
		LinkID      *string   `json:"link_id" example:"0193a6f1-0c2d-7e3f-8a4b-5c6d7e8f9a00" doc:"The delivery link emailed; null when the email failed"`
		BlockedKeys int       `json:"blocked_keys" example:"1" doc:"Replaced keys newly blocked from the stock (a key that came from the stock is known there already)"`
	}
}

type rejectClaimInput struct {
	ID   string `path:"id" maxLength:"64" example:"0193a6f0-2b1c-7d3e-9f4a-5b6c7d8e9f00" doc:"The claim's id"`
	Body struct {
		Message string `json:"message" minLength:"1" maxLength:"2000" pattern:"^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]*$" example:"The key was activated on your Steam account on 12 May; we cannot replace it." doc:"Emailed to the customer as it is"`
	}
}

type exportClaimsInput struct {
	Format string `query:"format" enum:"csv" default:"csv" doc:"csv, the only format"`
}

// registerClaims adds the customer's claim and support's work on claims.
// Support reads them; deciding one (a replacement takes a key from the
// stock, a rejection writes to the customer) is for admin keys.
func (s *Server) registerClaims(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "open-claim", Method: http.MethodPost, Path: "/v1/deliveries/{token}/claims", DefaultStatus: http.StatusCreated,
		Summary: "Report a key that does not work", Description: "Opens a claim on an item whose keys were revealed, within " +
			"KEYWARD_CLAIM_WINDOW of their first reveal, through any delivery link of the order (an expired one too); one open claim per item. " +
			"Support approves it (the key is replaced and a new link emailed) or rejects it (the customer is emailed why).",
		Tags: []string{"Delivery"}, Security: publicSecurity,
		Errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *openClaimInput) (*claimOutput, error) {
		c, err := s.app.Commands.OpenClaim.Handle(ctx, application.OpenClaimCommand{Token: in.Token, ItemID: in.Body.ItemID,
			Reason: in.Body.Reason, Message: in.Body.Message})
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &claimOutput{Body: claimBody(c)}, nil
	})
	errs := []int{http.StatusUnauthorized, http.StatusNotFound}
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-claims", Method: http.MethodGet, Path: "/v1/admin/claims",
		Summary: "List claims", Description: "Newest first, filtered by status and order, a page at a time.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *adminListClaimsInput) (*adminListClaimsOutput, error) {
		q := ports.ClaimQuery{OrderID: in.OrderID, After: in.Cursor, Limit: in.Limit}
		if in.Status != "" {
			st, err := domain.ParseClaimStatus(in.Status)
			if err != nil {
				return nil, problem(s.log, err)
			}
			q.Status = &st
		}
		cs, next, err := s.app.Queries.Claims.Handle(ctx, q)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &adminListClaimsOutput{}
		out.Body.Items = make([]ClaimBody, 0, len(cs))
		for _, c := range cs {
			out.Body.Items = append(out.Body.Items, claimBody(c))
		}
		if next != "" {
			out.Body.NextCursor = &next
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-export-claims", Method: http.MethodGet, Path: "/v1/admin/claims/export",
		Summary: "Export the bad keys for supplier disputes", Description: "One CSV row per approved claim, by supplier and supplier order: " +
			"the keys it found bad and where they were bought. Never a key.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
		Responses: map[string]*huma.Response{"200": {Description: "The bad keys, as CSV",
			Content: map[string]*huma.MediaType{"text/csv; charset=utf-8": {Schema: &huma.Schema{Type: "string"}}}}},
	}, func(ctx context.Context, _ *exportClaimsInput) (*huma.StreamResponse, error) {
		rows, err := s.app.Queries.BadKeys.Handle(ctx)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &huma.StreamResponse{Body: func(hc huma.Context) {
			hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
			hc.SetHeader("Content-Disposition", `attachment; filename="keyward-bad-keys.csv"`)
			if err := writeBadKeys(hc, rows); err != nil {
				s.log.Error("bad keys export stopped", "err", err)
			}
		}}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-get-claim", Method: http.MethodGet, Path: "/v1/admin/claims/{id}",
		Summary: "Get a claim with its order, item, reveals and supplier order", Description: "What support decides a claim on; never a key.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: errs,
	}, func(ctx context.Context, in *adminClaimInput) (*claimDetailOutput, error) {
		d, err := s.app.Queries.Claim.Handle(ctx, in.ID)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &claimDetailOutput{Body: claimDetailBody(d)}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-approve-claim", Method: http.MethodPost, Path: "/v1/admin/claims/{id}/approve",
		Summary: "Approve a claim: replace the key", Description: "Takes a replacement from the product's own stock, or buys it " +
			"from the item's supplier within the price guard, seals it under the order's data key and emails the customer a delivery " +
			"link that reveals it. The replaced key stays sealed as evidence, is never shown again, and is blocked from the stock (an " +
			"import of it, however spelt, is refused). An item gets KEYWARD_MAX_REPLACEMENTS replacements unless force is set. " +
			"Nothing is decided on an error: 409 when the stock has no key or the supplier asks more than the guard allows, 502 when " +
			"the supplier refuses, 503 while the replacement bought has no keys yet (approve again: the purchase is found, not repeated).",
		Tags: []string{"Admin"}, Security: adminSecurity,
		Errors: append(errs, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusBadGateway, http.StatusServiceUnavailable),
	}, func(ctx context.Context, in *approveClaimInput) (*approveClaimOutput, error) {
		res, err := s.app.Commands.ApproveClaim.Handle(ctx, application.ApproveClaimCommand{ClaimID: in.ID, Source: in.Body.Source,
			Note: in.Body.Note, Force: in.Body.Force, Actor: actorFrom(ctx)})
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &approveClaimOutput{}
		out.Body.Claim, out.Body.Emailed, out.Body.BlockedKeys = claimBody(res.Claim), res.Link != nil, res.BlockedKeys
		if res.Link != nil {
			id := res.Link.ID()
			out.Body.LinkID = &id
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-reject-claim", Method: http.MethodPost, Path: "/v1/admin/claims/{id}/reject",
		Summary: "Reject a claim", Description: "Emails the customer the message, then records the decision.",
		Tags: []string{"Admin"}, Security: adminSecurity,
		Errors: append(errs, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusServiceUnavailable),
	}, func(ctx context.Context, in *rejectClaimInput) (*claimOutput, error) {
		c, err := s.app.Commands.RejectClaim.Handle(ctx, in.ID, in.Body.Message, actorFrom(ctx))
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &claimOutput{Body: claimBody(c)}, nil
	})
}

// badKeysHeader names the export's columns.
var badKeysHeader = []string{"supplier", "supplier_order_id", "sku", "order_id", "item_id", "claim_id", "reason", "bad_keys", "approved_at"}

// writeBadKeys writes rows as CSV through safecsv: the cells hold ids a
// supplier chose.
func writeBadKeys(hc huma.Context, rows []application.BadKeys) error {
	cw := safecsv.NewWriter(hc.BodyWriter())
	err := cw.Write(badKeysHeader)
	for _, r := range rows {
		supplier := r.Supplier
		if supplier == "" {
			supplier = "own-stock"
		}
		err = errors.Join(err, cw.Write([]string{supplier, r.SupplierOrderID, r.SKU, r.OrderID, r.ItemID, r.ClaimID, r.Reason.String(),
			strconv.Itoa(r.Keys), r.ApprovedAt.UTC().Format(time.RFC3339)}))
	}
	cw.Flush()
	return errors.Join(err, cw.Error())
}
