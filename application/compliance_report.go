package application

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ComplianceReport sums up a period for auditors.
type ComplianceReport struct {
	From, To time.Time
	// RevealsPerDay counts the reveals the audit log records per UTC day
	// of the period (reveals undone after a failure are not counted), in
	// day order; days without reveals are left out.
	RevealsPerDay []DayCount
	// PaidToDelivered describes how long orders placed in the period took
	// from payment to the delivery email.
	PaidToDelivered DurationPercentiles
	// Orders placed in the period that are failed (need a refund), held
	// (underpaid, for review) or revoked.
	Failed, Held, Revoked int
	// Orders counts every order placed in the period.
	Orders int
}

// DayCount is a count for one UTC day ("2026-11-30").
type DayCount struct {
	Day   string
	Count int
}

// DurationPercentiles are nearest-rank percentiles of Count durations;
// all zero when Count is 0.
type DurationPercentiles struct {
	Count         int
	P50, P90, P99 time.Duration
	Max           time.Duration
}

// maxReportSpan bounds a report's period.
const maxReportSpan = 366 * 24 * time.Hour

// ReportCompliance builds compliance reports from the orders and the audit
// log.
type ReportCompliance struct {
	orders ports.OrderRepository
	trail  AuditTrail
}

// NewReportCompliance wires ReportCompliance; it panics when a dependency
// is nil.
func NewReportCompliance(orders ports.OrderRepository, audit ports.AuditLog) ReportCompliance {
	require("ReportCompliance", "orders", orders, "audit", audit)
	return ReportCompliance{orders: orders, trail: NewAuditTrail(audit)}
}

// auditRevealUndone marked a reveal given back after its record was
// written; logs written before reveals were audited in their own unit of
// work may hold it.
const auditRevealUndone = "keys.reveal_undone"

// Handle reports on [from, to). It returns an error wrapping
// ErrInvalidFilter when from is not before to or the period is longer
// than 366 days.
func (h ReportCompliance) Handle(ctx context.Context, from, to time.Time) (ComplianceReport, error) {
	if from.IsZero() || to.IsZero() || !from.Before(to) || to.Sub(from) > maxReportSpan {
		return ComplianceReport{}, fmt.Errorf("%w: from must be before to, at most 366 days apart", ErrInvalidFilter)
	}
	rep := ComplianceReport{From: from.UTC(), To: to.UTC()}
	perDay := map[string]int{}
	err := h.trail.EachMatching(ctx, AuditFilter{From: from, To: to, Action: "keys."}, func(r domain.AuditRecord) error {
		day := r.At.UTC().Format(time.DateOnly)
		switch r.Action {
		case AuditKeysRevealed:
			perDay[day]++
		case auditRevealUndone:
			perDay[day]--
		}
		return nil
	})
	if err != nil {
		return ComplianceReport{}, fmt.Errorf("compliance report: %w", err)
	}
	for _, day := range slices.Sorted(maps.Keys(perDay)) {
		if perDay[day] > 0 {
			rep.RevealsPerDay = append(rep.RevealsPerDay, DayCount{Day: day, Count: perDay[day]})
		}
	}
	var took []time.Duration
	q := ports.OrderQuery{CreatedFrom: from, CreatedTo: to, Limit: 500}
	for {
		page, err := h.orders.List(ctx, q)
		if err != nil {
			return ComplianceReport{}, fmt.Errorf("compliance report: %w", err)
		}
		for _, o := range page {
			rep.Orders++
			switch o.Status() {
			case domain.StatusFailed:
				rep.Failed++
			case domain.StatusUnderpaid:
				rep.Held++
			case domain.StatusRevoked:
				rep.Revoked++
			}
			if d, ok := paidToDelivered(o); ok {
				took = append(took, d)
			}
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID()
	}
	rep.PaidToDelivered = percentiles(took)
	return rep, nil
}

// paidToDelivered is the time from the order's payment to its first
// delivery email, when it has both.
func paidToDelivered(o *domain.Order) (time.Duration, bool) {
	var paid, sent time.Time
	for _, e := range o.Timeline() {
		switch {
		case e.Kind() == domain.EventKindPaymentConfirmed && paid.IsZero():
			paid = e.At()
		case e.Kind() == domain.EventKindDeliveryLinkSent && sent.IsZero():
			sent = e.At()
		}
	}
	if paid.IsZero() || sent.IsZero() || sent.Before(paid) {
		return 0, false
	}
	return sent.Sub(paid), true
}

func percentiles(ds []time.Duration) DurationPercentiles {
	if len(ds) == 0 {
		return DurationPercentiles{}
	}
	slices.Sort(ds)
	rank := func(p int) time.Duration { return ds[max(0, (p*len(ds)+99)/100-1)] }
	return DurationPercentiles{Count: len(ds), P50: rank(50), P90: rank(90), P99: rank(99), Max: ds[len(ds)-1]}
}
