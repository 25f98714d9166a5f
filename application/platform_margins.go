package application

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditMarginChanged records an admin's change to a platform's margin.
const AuditMarginChanged = "catalog.margin_changed"

// SetPlatformMargin sets or clears the margin of every product of one
// platform (a product's own margin still wins). Prices follow at the next
// sync.
type SetPlatformMargin struct {
	tx    ports.Transactor
	rules ports.PricingRules
	audit ports.AuditLog
}

// NewSetPlatformMargin wires SetPlatformMargin; it panics when a
// dependency is nil.
func NewSetPlatformMargin(tx ports.Transactor, rules ports.PricingRules, audit ports.AuditLog) SetPlatformMargin {
	require("SetPlatformMargin", "tx", tx, "pricingRules", rules, "audit", audit)
	return SetPlatformMargin{tx: tx, rules: rules, audit: audit}
}

// Handle sets the platform's margin, or clears it when margin is nil. It
// returns domain.ErrInvalidPricing for a bad platform or margin, the
// storage's error otherwise.
func (h SetPlatformMargin) Handle(ctx context.Context, platform string, margin *decimal.Decimal, actor string) error {
	m := decimal.Zero
	if margin != nil {
		m = *margin
	}
	rule, err := domain.NewMarginRule(domain.MarginForPlatform, platform, m)
	if err != nil {
		return err
	}
	return h.tx.Atomically(ctx, func(ctx context.Context) error {
		details := map[string]string{"scope": rule.Scope().String(), "margin": "default"}
		if margin != nil {
			details["margin"] = rule.Margin().String()
			err = h.rules.Set(ctx, rule)
		} else {
			err = h.rules.Delete(ctx, rule.Scope(), rule.Key())
		}
		if err != nil {
			return fmt.Errorf("store platform margin: %w", err)
		}
		if _, err := h.audit.Append(ctx, actor, AuditMarginChanged, rule.Key(), details); err != nil {
			return fmt.Errorf("audit margin change: %w", err)
		}
		return nil
	})
}

// ListPricingRules returns the stored margins.
type ListPricingRules struct{ rules ports.PricingRules }

// NewListPricingRules wires ListPricingRules; it panics when a dependency
// is nil.
func NewListPricingRules(rules ports.PricingRules) ListPricingRules {
	require("ListPricingRules", "pricingRules", rules)
	return ListPricingRules{rules: rules}
}

// Handle returns every rule by scope then key, or the storage's error.
func (h ListPricingRules) Handle(ctx context.Context) ([]domain.MarginRule, error) {
	return h.rules.List(ctx)
}
