package http

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// maxStockUploadBytes bounds a stock upload: image keys come base64-encoded.
const maxStockUploadBytes = 16 << 20

type stockSKUInput struct {
	SKU string `path:"sku" maxLength:"64" example:"windows-11-pro-oem-global" doc:"The product's sku"`
}

type stockImageBody struct {
	ContentType string `json:"content_type" enum:"image/png,image/jpeg,image/gif,image/webp" doc:"The image's media type"`
	Data        []byte `json:"data" minLength:"1" doc:"The image, base64"`
}

type stockUploadInput struct {
	SKU  string `path:"sku" maxLength:"64" example:"windows-11-pro-oem-global" doc:"The product's sku"`
	Body struct {
		Keys   []string         `json:"keys,omitempty" maxItems:"10000" doc:"Text keys"`
		Images []stockImageBody `json:"images,omitempty" maxItems:"1000" doc:"Image keys"`
	}
}

type stockUploadOutput struct {
	Body struct {
		Added      int      `json:"added" doc:"Keys stocked by this upload"`
		Duplicates int      `json:"duplicates" doc:"Keys already known (in stock, sold or withdrawn), or given twice, and skipped"`
		IDs        []string `json:"ids" doc:"The ids of the keys added (text keys first, then images, in the order given), to withdraw one"`
	}
}

type stockLevelsOutput struct {
	Body struct {
		SKU       string `json:"sku" example:"windows-11-pro-oem-global" doc:"The product's sku"`
		Sourcing  string `json:"sourcing" enum:"stock_only,supplier_only,stock_then_supplier" doc:"Where its keys come from: stock_only, our own keys; supplier_only, always bought; stock_then_supplier, our keys first, then bought"`
		Available int    `json:"available" doc:"Keys ready to sell"`
		Assigned  int    `json:"assigned" doc:"Keys sold to an order"`
		Withdrawn int    `json:"withdrawn" doc:"Keys an admin took out"`
	}
}

type stockWithdrawInput struct {
	SKU string `path:"sku" maxLength:"64" example:"windows-11-pro-oem-global" doc:"The product's sku"`
	ID  string `path:"id" maxLength:"64" doc:"The key's id, as the upload returned it"`
}

type sourcingInput struct {
	SKU  string `path:"sku" maxLength:"64" example:"windows-11-pro-oem-global" doc:"The product's sku"`
	Body struct {
		Sourcing string `json:"sourcing" enum:"stock_only,supplier_only,stock_then_supplier" doc:"Where the product's keys come from; a product never set takes stock_then_supplier (stock_only when it has no supplier)"`
	}
}

func (s *Server) registerStock(api huma.API) {
	errs := []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}
	huma.Register(api, huma.Operation{
		OperationID: "admin-stock-upload", Method: http.MethodPost, Path: "/v1/admin/products/{sku}/stock",
		Summary:     "Add keys to a product's own stock",
		Description: "Keys are sealed at once; keys already known (even sold or withdrawn ones) are skipped as duplicates.",
		Tags:        []string{"Admin"}, Security: adminSecurity, Errors: append(errs, http.StatusServiceUnavailable),
		MaxBodyBytes: maxStockUploadBytes,
	}, func(ctx context.Context, in *stockUploadInput) (*stockUploadOutput, error) {
		cmd := application.ImportStockCommand{SKU: in.SKU, Actor: actorFrom(ctx)}
		for _, k := range in.Body.Keys {
			cmd.Keys = append(cmd.Keys, application.StockKeyInput{ContentType: "text/plain", Data: []byte(k)})
		}
		for _, im := range in.Body.Images {
			cmd.Keys = append(cmd.Keys, application.StockKeyInput{ContentType: im.ContentType, Data: im.Data})
		}
		res, err := s.app.Commands.ImportStock.Handle(ctx, cmd)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &stockUploadOutput{}
		out.Body.Added, out.Body.Duplicates, out.Body.IDs = res.Added, res.Duplicates, make([]string, len(res.IDs))
		for i, id := range res.IDs {
			out.Body.IDs[i] = string(id)
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-stock-levels", Method: http.MethodGet, Path: "/v1/admin/products/{sku}/stock",
		Summary: "A product's own stock: counts and sourcing, never a key",
		Tags:    []string{"Admin"}, Security: adminSecurity, Errors: errs,
	}, func(ctx context.Context, in *stockSKUInput) (*stockLevelsOutput, error) {
		return s.stockLevels(ctx, in.SKU)
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-stock-withdraw", Method: http.MethodDelete, Path: "/v1/admin/products/{sku}/stock/{id}",
		DefaultStatus: http.StatusNoContent, Summary: "Withdraw one available key from the stock",
		Tags: []string{"Admin"}, Security: adminSecurity, Errors: errs,
	}, func(ctx context.Context, in *stockWithdrawInput) (*struct{}, error) {
		if err := s.app.Commands.WithdrawStock.Handle(ctx, in.SKU, domain.StockKeyID(in.ID), actorFrom(ctx)); err != nil {
			return nil, problem(s.log, err)
		}
		return nil, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-product-sourcing", Method: http.MethodPut, Path: "/v1/admin/products/{sku}/sourcing",
		Summary: "Choose where a product's keys come from", Tags: []string{"Admin"}, Security: adminSecurity, Errors: errs,
	}, func(ctx context.Context, in *sourcingInput) (*stockLevelsOutput, error) {
		m, err := domain.ParseSourcing(in.Body.Sourcing)
		if err != nil {
			return nil, problem(s.log, fmt.Errorf("sourcing: %w", err))
		}
		if err := s.app.Commands.SetSourcing.Handle(ctx, in.SKU, m, actorFrom(ctx)); err != nil {
			return nil, problem(s.log, err)
		}
		return s.stockLevels(ctx, in.SKU)
	})
}

func (s *Server) stockLevels(ctx context.Context, sku string) (*stockLevelsOutput, error) {
	l, err := s.app.Queries.ListStock.Handle(ctx, sku)
	if err != nil {
		return nil, problem(s.log, err)
	}
	out := &stockLevelsOutput{}
	out.Body.SKU, out.Body.Sourcing = l.SKU, l.Sourcing.String()
	out.Body.Available, out.Body.Assigned, out.Body.Withdrawn = l.Counts.Available, l.Counts.Assigned, l.Counts.Withdrawn
	return out, nil
}
