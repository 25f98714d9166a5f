package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

type complianceInput struct {
	From time.Time `query:"from" required:"true" doc:"Start of the period, inclusive (RFC 3339)"`
	To   time.Time `query:"to" required:"true" doc:"End of the period, exclusive (RFC 3339); at most 366 days after from"`
}

// DayCountBody is a count for one UTC day.
type DayCountBody struct {
	Day   string `json:"day" example:"2026-11-30" doc:"The UTC day (YYYY-MM-DD)"`
	Count int    `json:"count" example:"42" doc:"How many that day"`
}

// PercentilesBody are nearest-rank percentiles of durations, in seconds.
type PercentilesBody struct {
	Count int     `json:"count" doc:"Orders measured"`
	P50   float64 `json:"p50_seconds" example:"38.5" doc:"Half the orders took at most this, in seconds"`
	P90   float64 `json:"p90_seconds" example:"95" doc:"90% took at most this, in seconds"`
	P99   float64 `json:"p99_seconds" example:"240" doc:"99% took at most this, in seconds"`
	Max   float64 `json:"max_seconds" example:"610" doc:"The slowest, in seconds"`
}

type complianceOutput struct {
	Body struct {
		From            time.Time       `json:"from" doc:"Start of the period, as asked"`
		To              time.Time       `json:"to" doc:"End of the period (exclusive), as asked"`
		RevealsPerDay   []DayCountBody  `json:"reveals_per_day" doc:"Reveals recorded in the audit log per UTC day; days without any left out"`
		PaidToDelivered PercentilesBody `json:"paid_to_delivered" doc:"From payment to the delivery email, orders placed in the period"`
		Orders          int             `json:"orders" doc:"Orders placed in the period"`
		Failed          int             `json:"failed" doc:"Of those, failed (need a refund)"`
		Held            int             `json:"held" doc:"Of those, underpaid and held for review"`
		Revoked         int             `json:"revoked" doc:"Of those, revoked"`
	}
}

func (s *Server) registerReports(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-compliance-report", Method: http.MethodGet, Path: "/v1/admin/reports/compliance",
		Summary: "Compliance report for a period", Tags: []string{"Admin"}, Security: supportSecurity,
		Errors: []int{http.StatusUnauthorized, http.StatusUnprocessableEntity},
	}, func(ctx context.Context, in *complianceInput) (*complianceOutput, error) {
		rep, err := s.app.Queries.Compliance.Handle(ctx, in.From, in.To)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &complianceOutput{}
		b := &out.Body
		b.From, b.To, b.Orders, b.Failed, b.Held, b.Revoked = rep.From, rep.To, rep.Orders, rep.Failed, rep.Held, rep.Revoked
		b.RevealsPerDay = make([]DayCountBody, 0, len(rep.RevealsPerDay))
		for _, d := range rep.RevealsPerDay {
			b.RevealsPerDay = append(b.RevealsPerDay, DayCountBody{Day: d.Day, Count: d.Count})
		}
		p := rep.PaidToDelivered
		b.PaidToDelivered = PercentilesBody{Count: p.Count, P50: p.P50.Seconds(), P90: p.P90.Seconds(), P99: p.P99.Seconds(), Max: p.Max.Seconds()}
		return out, nil
	})
}

// documentAdminRoles adds the 403 a key of the wrong role gets to every
// operation that needs an admin key, and names the roles allowed in its
// description, so the document shows what the middleware enforces.
func documentAdminRoles(api huma.API) {
	for _, item := range api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Delete, item.Patch} {
			if op == nil || !requires(op, adminKeyScheme) || op.Responses["403"] != nil || op.Responses["401"] == nil {
				continue
			}
			r := *op.Responses["401"]
			r.Description = "Forbidden: the admin key's role does not allow this operation"
			op.Responses["403"] = &r
		}
	}
}
