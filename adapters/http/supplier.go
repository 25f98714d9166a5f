package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

type supplierWebhookInput struct {
	Supplier string `path:"supplier" maxLength:"40" pattern:"^[a-z0-9_-]+$" example:"kinguin" doc:"The supplier that sends the webhook, as named in KEYWARD_SUPPLIERS: kinguin, codeswholesale or sandbox"`
	Event    string `header:"X-Event-Name" maxLength:"100" doc:"Kinguin (and the sandbox): the event, order.status, order.complete (deprecated) or product.update; others are acknowledged and ignored"`
	Secret   string `header:"X-Event-Secret" maxLength:"1000" doc:"Kinguin (and the sandbox): the store's webhook secret (KEYWARD_KINGUIN_WEBHOOK_SECRET), as Kinguin sends it"`
	RawBody  []byte `contentType:"application/json"`
	header   http.Header
}

// Resolve keeps every header: the supplier's adapter reads its own.
func (in *supplierWebhookInput) Resolve(ctx huma.Context) []error {
	in.header = http.Header{}
	ctx.EachHeader(func(name, value string) { in.header.Add(name, value) })
	return nil
}

type catalogSyncInput struct {
	Body *struct {
		Supplier     string     `json:"supplier,omitempty" maxLength:"40" example:"codeswholesale" doc:"The supplier whose catalog to import, as named in KEYWARD_SUPPLIERS (default: the first; 404 for one not configured). Runs are not told apart by supplier yet: any but the first is read in full unless updated_since is given (incremental without it is 422), and its run is listed as partial"`
		Mode         string     `json:"mode,omitempty" enum:"full,incremental" doc:"full (the default) reads every product and takes those not seen out of stock; incremental reads what changed since the last successful run, less 5 minutes"`
		UpdatedSince *time.Time `json:"updated_since,omitempty" doc:"Import only products the supplier changed since (RFC 3339): an incremental run from then"`
		Cursor       string     `json:"cursor,omitempty" maxLength:"100" doc:"next_cursor of a sync that stopped at max_pages"`
		MaxPages     int        `json:"max_pages,omitempty" minimum:"0" maximum:"1000" doc:"Stop after this many supplier pages of 100 products (0: 20); resume with next_cursor"`
	}
}

type catalogSyncOutput struct {
	Body struct {
		RunID       string  `json:"run_id" doc:"The run as listed at GET /v1/admin/catalog/sync-runs"`
		Mode        string  `json:"mode" enum:"full,incremental" doc:"The kind of run this call made"`
		Products    int     `json:"products" doc:"Supplier products read by this call"`
		Created     int     `json:"created" doc:"Products new to the catalog"`
		Changed     int     `json:"changed" doc:"Products whose listing (name, price, stock) changed"`
		Deactivated int     `json:"deactivated" doc:"Products taken out of stock: gone from the supplier (full runs) or sold out"`
		Pages       int     `json:"pages" doc:"Supplier pages read"`
		NextCursor  *string `json:"next_cursor" doc:"Where to resume (POST again with it as cursor); null when the catalog was read to its end"`
	}
}

// defaultSyncPages keeps one sync call well inside the server's write
// timeout; larger catalogs are imported in steps (next_cursor).
const defaultSyncPages = 20

func (s *Server) registerSupplier(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "supplier-webhook", Method: http.MethodPost, Path: "/v1/webhooks/{supplier}", DefaultStatus: http.StatusNoContent,
		Summary: "Supplier webhook",
		Description: "Each supplier's adapter authenticates and reads its own webhooks. Kinguin (and the sandbox): X-Event-Secret, " +
			"compared in constant time; order.status and order.complete resume the fulfilment of the item bought under " +
			"orderExternalId, product.update refreshes that catalog entry. CodesWholesale: the body's authHash (SHA-256 of the " +
			"client id and the client signature, KEYWARD_CODESWHOLESALE_CLIENT_SIGNATURE), compared in constant time; PREORDER " +
			"resumes the item bought under that order, STOCK, NEW_PRODUCT, PRODUCT_UPDATED and PRODUCT_HIDDEN refresh those " +
			"catalog entries. An event is a hint: the order or product is read again from the supplier before anything is " +
			"stored. Unknown orders and products, other events and stale events are acknowledged and ignored; a supplier that " +
			"is not configured is 404.",
		Tags: []string{"Webhooks"}, MaxBodyBytes: s.opts.MaxWebhookBytes, SkipValidateBody: true,
		// Authenticated by the supplier's own credential, not by a scheme.
		Security:    publicSecurity,
		RequestBody: &huma.RequestBody{Description: "The event as the supplier sent it."},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestEntityTooLarge,
			http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *supplierWebhookInput) (*struct{}, error) {
		res, err := s.app.Commands.SupplierWebhook.Handle(ctx, in.Supplier, ports.SupplierWebhook{Header: in.header.Get, Body: in.RawBody})
		if err != nil {
			return nil, s.webhookProblem(ctx, err)
		}
		s.log.DebugContext(ctx, "supplier webhook", "supplier", in.Supplier, "outcome", res.Outcome, "reason", res.Reason, "order_id", res.OrderID)
		return nil, nil
	})
	body := api.OpenAPI().Paths["/v1/webhooks/{supplier}"].Post.RequestBody.Content["application/json"]
	body.Schema = &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true,
		Description: "Kinguin order.status: orderId, orderExternalId, status, updatedAt; order.complete: orderId, orderExternalId, updatedAt; " +
			"product.update: kinguinId, productId, qty, textQty, cheapestOfferId, updatedAt. CodesWholesale: type, authHash, and " +
			"orderId (PREORDER), productId (NEW_PRODUCT, PRODUCT_UPDATED, PRODUCT_HIDDEN) or products[].productId (STOCK)."}

	huma.Register(api, huma.Operation{
		OperationID: "admin-sync-catalog", Method: http.MethodPost, Path: "/v1/admin/catalog/sync",
		Summary:     "Import the supplier's catalog",
		Description: "Stores the supplier's products priced by the pricing rules, page by page, writing only what changed; one sync runs at a time and each is recorded (GET /v1/admin/catalog/sync-runs).",
		Tags:        []string{"Admin"}, Security: adminSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusBadGateway, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *catalogSyncInput) (*catalogSyncOutput, error) {
		cmd := application.SyncCatalogCommand{MaxPages: defaultSyncPages, Mode: domain.SyncFull}
		if b := in.Body; b != nil {
			cmd.Supplier = b.Supplier
			if b.Mode == domain.SyncIncremental.String() || b.Mode == "" && b.UpdatedSince != nil {
				cmd.Mode = domain.SyncIncremental
			}
			cmd.Cursor = b.Cursor
			if b.UpdatedSince != nil {
				cmd.UpdatedSince = *b.UpdatedSince
			}
			if b.MaxPages > 0 {
				cmd.MaxPages = b.MaxPages
			}
		}
		res, err := s.app.Commands.SyncCatalog.Handle(ctx, cmd)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &catalogSyncOutput{}
		out.Body.RunID, out.Body.Mode, out.Body.Products, out.Body.Pages = res.RunID, res.Mode.String(), res.Products, res.Pages
		out.Body.Created, out.Body.Changed, out.Body.Deactivated = res.Counts.Created, res.Counts.Changed, res.Counts.Deactivated
		if res.Next != "" {
			out.Body.NextCursor = &res.Next
		}
		return out, nil
	})
}
