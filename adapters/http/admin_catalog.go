package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// SyncRunBody is one recorded catalog sync.
type SyncRunBody struct {
	ID           string     `json:"id" example:"0193a4f0-0c1d-7e2f-8a3b-4c5d6e7f8a9b" doc:"The run's id (UUID)"`
	Supplier     string     `json:"supplier" example:"kinguin" doc:"The supplier whose catalog the run read (\"\" for runs recorded before runs named theirs)"`
	Mode         string     `json:"mode" enum:"full,incremental" doc:"full: the whole catalog; incremental: what changed since updated_since"`
	Status       string     `json:"status" enum:"running,succeeded,partial,failed" doc:"partial: read part of the catalog (stopped at max_pages, or resumed from a cursor)"`
	UpdatedSince *time.Time `json:"updated_since" doc:"Incremental runs: supplier changes read from this time"`
	StartedAt    time.Time  `json:"started_at" doc:"When the run started (RFC 3339)"`
	FinishedAt   *time.Time `json:"finished_at" doc:"null while running"`
	Seen         int        `json:"seen" doc:"Supplier products read"`
	Created      int        `json:"created" doc:"New catalog entries"`
	Changed      int        `json:"changed" doc:"Entries whose listing changed (unchanged ones are not written)"`
	Deactivated  int        `json:"deactivated" doc:"Entries no longer in stock: vanished from the supplier (full runs) or sold out"`
	ErrorCount   int        `json:"error_count" doc:"Errors met by the run (errors lists the first ones)"`
	Errors       []string   `json:"errors" doc:"The first error messages"`
}

func syncRunBody(r *domain.SyncRun) SyncRunBody {
	s := r.Snapshot()
	b := SyncRunBody{ID: s.ID, Supplier: s.Supplier, Mode: s.Mode.String(), Status: s.Status.String(), StartedAt: s.StartedAt,
		Seen: s.Counts.Seen, Created: s.Counts.Created, Changed: s.Counts.Changed, Deactivated: s.Counts.Deactivated,
		ErrorCount: s.ErrorCount, Errors: s.Errors}
	if b.Errors == nil {
		b.Errors = []string{}
	}
	if !s.UpdatedSince.IsZero() {
		b.UpdatedSince = &s.UpdatedSince
	}
	if !s.FinishedAt.IsZero() {
		b.FinishedAt = &s.FinishedAt
	}
	return b
}

type listSyncRunsInput struct {
	Supplier string `query:"supplier" maxLength:"64" example:"codeswholesale" doc:"Only the runs of this supplier (each is synced on its own schedule)"`
	Cursor   string `query:"cursor" maxLength:"100" doc:"next_cursor of the previous page"`
	Limit    int    `query:"limit" minimum:"1" maximum:"200" default:"50" doc:"Runs per page"`
}

type listSyncRunsOutput struct {
	Body struct {
		Items      []SyncRunBody `json:"items" doc:"Newest first"`
		NextCursor *string       `json:"next_cursor" doc:"Pass as cursor for the next page; null at the end"`
	}
}

// AdminProductBody is a catalog entry as an admin sees it.
type AdminProductBody struct {
	ProductBody
	Active      bool       `json:"active" doc:"Whether the product is for sale (an admin can take it off sale)"`
	Stock       int        `json:"stock" doc:"Keys that can be sold now, counted as the product's sourcing takes them: the supplier's, the own stock's, or both"`
	PricePinned bool       `json:"price_pinned" doc:"The price was set by an admin; syncs keep it"`
	Cost        *MoneyBody `json:"cost" doc:"The supplier's cost; null for own stock without one"`
	Supplier    string     `json:"supplier,omitempty" example:"kinguin" doc:"The supplier the product is bought from; absent for own stock only"`
}

func adminProductBody(p *domain.Product) AdminProductBody {
	b := AdminProductBody{ProductBody: productBody(p), Active: p.Active(), Stock: p.Stock(), PricePinned: p.PricePinned(),
		Supplier: p.Source().Supplier}
	if c := p.Source().Cost; !c.Currency().IsZero() {
		cost := moneyBody(c)
		b.Cost = &cost
	}
	return b
}

type updateProductInput struct {
	SKU  string `path:"sku" maxLength:"64" example:"cyberpunk-2077-gog-global" doc:"The product's sku"`
	Body struct {
		Price  *string `json:"price,omitempty" pattern:"^([0-9]{1,9}(\\.[0-9]{1,2})?)?$" example:"19.99" doc:"Pin the sale price (syncs keep it); \"\" goes back to the computed price"`
		Margin *string `json:"margin,omitempty" pattern:"^([0-9]{1,9}(\\.[0-9]{1,4})?)?$" example:"0.15" doc:"The product's own margin on cost (0.15 = 15%), before its platform's and the default; \"\" removes it"`
		Active *bool   `json:"active,omitempty" doc:"Whether the product is for sale"`
	}
}

type adminProductOutput struct {
	Body AdminProductBody
}

// PricingRuleBody is a stored margin.
type PricingRuleBody struct {
	Scope  string `json:"scope" enum:"product,platform" doc:"product: the margin of one product; platform: of every product of a platform without one of its own"`
	Key    string `json:"key" doc:"The sku, or the platform in lower case"`
	Margin string `json:"margin" example:"0.15" doc:"Decimal margin on cost (0.15 = 15%)"`
}

type pricingRulesOutput struct {
	Body struct {
		Items []PricingRuleBody `json:"items" doc:"Every stored margin; the default (KEYWARD_CATALOG_MARGIN) is not listed"`
	}
}

type platformMarginInput struct {
	Platform string `path:"platform" maxLength:"100" example:"steam" doc:"The platform, in any case"`
	Body     struct {
		Margin string `json:"margin" pattern:"^[0-9]{1,9}(\\.[0-9]{1,4})?$" example:"0.15" doc:"Margin on cost for the platform's products (0.15 = 15%)"`
	}
}

type platformPathInput struct {
	Platform string `path:"platform" maxLength:"100" example:"steam" doc:"The platform, in any case"`
}

func optionalDecimal(s *string) (d *decimal.Decimal, clear bool) {
	switch {
	case s == nil:
		return nil, false
	case *s == "":
		return nil, true
	}
	v := decimal.RequireFromString(*s) // the pattern admitted only decimals
	return &v, false
}

func (s *Server) registerAdminCatalog(api huma.API) {
	errs := []int{http.StatusUnauthorized, http.StatusForbidden}
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-sync-runs", Method: http.MethodGet, Path: "/v1/admin/catalog/sync-runs",
		Summary: "List catalog sync runs", Description: "Newest first: periodic, on-demand and command-line runs, of every supplier or of the one named.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: errs,
	}, func(ctx context.Context, in *listSyncRunsInput) (*listSyncRunsOutput, error) {
		var page application.SyncRunPage
		var err error
		if in.Supplier != "" {
			page, err = s.app.Queries.SyncRuns.HandleOf(ctx, in.Supplier, in.Cursor, in.Limit)
		} else {
			page, err = s.app.Queries.SyncRuns.Handle(ctx, in.Cursor, in.Limit)
		}
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &listSyncRunsOutput{}
		out.Body.Items = make([]SyncRunBody, 0, len(page.Items))
		for _, r := range page.Items {
			out.Body.Items = append(out.Body.Items, syncRunBody(r))
		}
		if page.NextCursor != "" {
			out.Body.NextCursor = &page.NextCursor
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-update-product", Method: http.MethodPut, Path: "/v1/admin/products/{sku}",
		Summary:     "Pin a product's price, set its margin, put it on or off sale",
		Description: "Fields left out stay as they are. A pinned price survives every sync; without one the price is cost × (1 + margin) + KEYWARD_PRICE_FEE rounded up to KEYWARD_PRICE_ENDING, recomputed at once.",
		Tags:        []string{"Admin"}, Security: adminSecurity, Errors: append(errs, http.StatusNotFound, http.StatusUnprocessableEntity),
	}, func(ctx context.Context, in *updateProductInput) (*adminProductOutput, error) {
		cmd := application.UpdateProductCommand{SKU: in.SKU, Active: in.Body.Active, Actor: actorFrom(ctx)}
		cmd.Price, cmd.Unpin = optionalDecimal(in.Body.Price)
		cmd.Margin, cmd.ClearMargin = optionalDecimal(in.Body.Margin)
		p, err := s.app.Commands.UpdateProduct.Handle(ctx, cmd)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &adminProductOutput{Body: adminProductBody(p)}, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-pricing-rules", Method: http.MethodGet, Path: "/v1/admin/pricing/margins",
		Summary: "List the margins set per product and per platform", Tags: []string{"Admin"}, Security: supportSecurity, Errors: errs,
	}, func(ctx context.Context, _ *struct{}) (*pricingRulesOutput, error) {
		rules, err := s.app.Queries.PricingRules.Handle(ctx)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &pricingRulesOutput{}
		out.Body.Items = make([]PricingRuleBody, 0, len(rules))
		for _, r := range rules {
			out.Body.Items = append(out.Body.Items, PricingRuleBody{Scope: r.Scope().String(), Key: r.Key(), Margin: r.Margin().String()})
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-set-platform-margin", Method: http.MethodPut, Path: "/v1/admin/pricing/platforms/{platform}",
		DefaultStatus: http.StatusNoContent, Summary: "Set the margin of a platform's products",
		Description: "Products with a margin of their own keep it. Prices follow at the next sync.",
		Tags:        []string{"Admin"}, Security: adminSecurity, Errors: append(errs, http.StatusUnprocessableEntity),
	}, func(ctx context.Context, in *platformMarginInput) (*struct{}, error) {
		m := decimal.RequireFromString(in.Body.Margin)
		return nil, problem(s.log, s.app.Commands.SetPlatformMargin.Handle(ctx, in.Platform, &m, actorFrom(ctx)))
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-clear-platform-margin", Method: http.MethodDelete, Path: "/v1/admin/pricing/platforms/{platform}",
		DefaultStatus: http.StatusNoContent, Summary: "Remove a platform's margin (the default applies again)",
		Tags: []string{"Admin"}, Security: adminSecurity, Errors: append(errs, http.StatusUnprocessableEntity),
	}, func(ctx context.Context, in *platformPathInput) (*struct{}, error) {
		return nil, problem(s.log, s.app.Commands.SetPlatformMargin.Handle(ctx, in.Platform, nil, actorFrom(ctx)))
	})
}
