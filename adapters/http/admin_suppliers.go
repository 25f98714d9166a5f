package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
)

// SupplierBody is one supplier as an operator watches it.
type SupplierBody struct {
	Name        string     `json:"name" example:"kinguin" doc:"The supplier's name in KEYWARD_SUPPLIERS"`
	Healthy     bool       `json:"healthy" doc:"It answered, and its balance could be read where it has one"`
	Error       string     `json:"error,omitempty" doc:"Why it is not healthy"`
	Balance     *MoneyBody `json:"balance" doc:"The account's balance; null when the supplier does not tell it or it cannot be read now"`
	Breaker     string     `json:"breaker" enum:"closed,open,half-open," example:"closed" doc:"Its circuit breaker: open fails calls at once (its offers are passed over), half-open probes; \"\" without one"`
	LastSyncAt  *time.Time `json:"last_sync_at" doc:"When its latest catalog sync run ended; null when none ran"`
	ItemsBought int        `json:"items_bought" example:"128" doc:"Items with a purchase recorded at this supplier"`
}

type listSuppliersOutput struct {
	Body struct {
		Items []SupplierBody `json:"items" doc:"Every configured supplier, in the order of KEYWARD_SUPPLIERS"`
	}
}

func supplierBody(s application.SupplierStatus) SupplierBody {
	b := SupplierBody{Name: s.Name, Healthy: s.Healthy, Error: s.HealthError, Breaker: s.Breaker, ItemsBought: s.ItemsBought}
	if s.HasBalance {
		m := moneyBody(s.Balance)
		b.Balance = &m
	}
	if !s.LastSyncAt.IsZero() {
		t := s.LastSyncAt
		b.LastSyncAt = &t
	}
	return b
}

func (s *Server) registerAdminSuppliers(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-suppliers", Method: http.MethodGet, Path: "/v1/admin/suppliers",
		Summary:     "List the suppliers: health, balance, breaker, last sync, items bought",
		Description: "Each supplier is asked for its health and balance now (within the readiness timeout).",
		Tags:        []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, _ *struct{}) (*listSuppliersOutput, error) {
		all, err := s.app.Queries.Suppliers.Handle(ctx)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &listSuppliersOutput{}
		out.Body.Items = make([]SupplierBody, 0, len(all))
		for _, sup := range all {
			out.Body.Items = append(out.Body.Items, supplierBody(sup))
		}
		return out, nil
	})
}

func init() {
	synced := time.Date(2026, 11, 27, 11, 2, 0, 0, time.UTC)
	out := listSuppliersOutput{}
	out.Body.Items = []SupplierBody{
		{Name: "kinguin", Healthy: true, Balance: &MoneyBody{Amount: "1520.40", Currency: "EUR"}, Breaker: "closed", LastSyncAt: &synced, ItemsBought: 128},
		{Name: "codeswholesale", Healthy: true, Balance: &MoneyBody{Amount: "310.00", Currency: "EUR"}, Breaker: "half-open", LastSyncAt: &synced, ItemsBought: 17},
	}
	operationExamples["admin-list-suppliers"] = operationExample{responses: map[string]any{"200": out.Body}}
}
