package http

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
)

type listProductsInput struct {
	Cursor   string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page"`
	Limit    int    `query:"limit" minimum:"1" maximum:"100" default:"50" doc:"Products per page"`
	Q        string `query:"q" maxLength:"100" doc:"Only products whose name contains this, in any case"`
	Platform string `query:"platform" maxLength:"100" example:"Steam" doc:"Only products of this platform, in any case"`
	InStock  string `query:"in_stock" enum:"true,false" doc:"Only products that can (true) or cannot (false) be ordered now"`
}

type listProductsOutput struct {
	Body struct {
		Items      []ProductBody `json:"items" doc:"This page's products, by sku; empty when none match"`
		NextCursor *string       `json:"next_cursor" doc:"null on the last page"`
	}
}

type getProductInput struct {
	SKU string `path:"sku" maxLength:"64" example:"cyberpunk-2077-gog-global" doc:"The product's sku"`
}

type productOutput struct {
	Body ProductBody
}

func (s *Server) registerCatalog(api huma.API) {
	s.registerAdminCatalog(api)
	s.registerAdminOffers(api)
	s.registerAdminSuppliers(api)
	s.registerOfferSuggestions(api)
	huma.Register(api, huma.Operation{
		OperationID: "list-products", Method: http.MethodGet, Path: "/v1/products",
		Summary: "List products", Tags: []string{"Catalog"}, Security: publicSecurity,
		Description: "By sku, a page at a time (cursor paging); q searches names, platform and in_stock filter.",
		Errors:      []int{http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *listProductsInput) (*listProductsOutput, error) {
		f := application.ProductFilter{Search: in.Q, Platform: in.Platform}
		if in.InStock != "" {
			inStock := in.InStock == "true"
			f.InStock = &inStock
		}
		page, err := s.app.Queries.ListProducts.Handle(ctx, in.Cursor, in.Limit, f)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &listProductsOutput{}
		out.Body.Items = make([]ProductBody, 0, len(page.Items))
		for _, p := range page.Items {
			out.Body.Items = append(out.Body.Items, productBody(p))
		}
		if page.NextCursor != "" {
			out.Body.NextCursor = &page.NextCursor
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "get-product", Method: http.MethodGet, Path: "/v1/products/{sku}",
		Summary: "Get a product", Tags: []string{"Catalog"}, Security: publicSecurity,
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *getProductInput) (*productOutput, error) {
		p, err := s.app.Queries.GetProduct.Handle(ctx, in.SKU)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return &productOutput{Body: productBody(p)}, nil
	})
}
