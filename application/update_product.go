package application

import (
	"context"
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AuditProductUpdated records an admin's change to a catalog entry.
const AuditProductUpdated = "catalog.product_updated"

// UpdateProduct is an admin's change to one catalog entry: a pinned price
// (kept by every sync) or back to the computed one, the product's own
// margin, and whether it is for sale. The entry is repriced at once.
type UpdateProduct struct {
	tx      ports.Transactor
	catalog ports.CatalogRepository
	rules   ports.PricingRules
	audit   ports.AuditLog
	pricing PricingSettings
}

// NewUpdateProduct wires UpdateProduct; it panics when a dependency is nil.
func NewUpdateProduct(tx ports.Transactor, catalog ports.CatalogRepository, rules ports.PricingRules, audit ports.AuditLog, pricing PricingSettings) UpdateProduct {
	require("UpdateProduct", "tx", tx, "catalog", catalog, "pricingRules", rules, "audit", audit)
	return UpdateProduct{tx: tx, catalog: catalog, rules: rules, audit: audit, pricing: pricing}
}

// UpdateProductCommand says what to change; nil fields stay as they are.
type UpdateProductCommand struct {
	SKU string
	// Price pins the sale price (in the product's currency).
	Price *decimal.Decimal
	// Unpin goes back to the price the margin computes.
	Unpin bool
	// Margin sets the product's own margin; ClearMargin removes it (the
	// platform's or the default applies again).
	Margin      *decimal.Decimal
	ClearMargin bool
	Active      *bool
	Actor       string
}

// Handle applies the change and returns the product: domain.ErrNotFound
// for an unknown sku, ErrInvalidFilter for contradictory fields,
// domain.ErrInvalidMoney or domain.ErrInvalidPricing for a bad price or
// margin, the storage's error otherwise.
func (h UpdateProduct) Handle(ctx context.Context, cmd UpdateProductCommand) (*domain.Product, error) {
	if cmd.Price != nil && cmd.Unpin || cmd.Margin != nil && cmd.ClearMargin {
		return nil, fmt.Errorf("%w: set a price or unpin it, set a margin or clear it, not both", ErrInvalidFilter)
	}
	var out *domain.Product
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		cur, err := h.catalog.Get(ctx, cmd.SKU)
		if err != nil {
			return err
		}
		details := map[string]string{}
		if err := h.changeMargin(ctx, cmd, details); err != nil {
			return err
		}
		s := cur.Snapshot()
		switch {
		case cmd.Price != nil:
			price, err := domain.MoneyFromDecimal(*cmd.Price, s.Price.Currency())
			if err != nil {
				return err
			}
			s.Price, s.PricePinned = price, true
			details["price"] = price.String()
		case cmd.Unpin:
			s.PricePinned = false
			details["price"] = "computed"
		}
		if !s.PricePinned && !s.Source.Cost.Currency().IsZero() {
			rules, err := h.rules.List(ctx)
			if err != nil {
				return fmt.Errorf("read pricing rules: %w", err)
			}
			pricing, err := domain.NewPricing(h.pricing.Margin, h.pricing.Fee, h.pricing.Ending, rules...)
			if err != nil {
				return err
			}
			if s.Price, err = pricing.SalePrice(s.SKU, s.Platform, s.Source.Cost); err != nil {
				return err
			}
		}
		if cmd.Active != nil {
			s.Active = *cmd.Active
			details["active"] = fmt.Sprint(*cmd.Active)
		}
		p, err := domain.NewProduct(s)
		if err != nil {
			return err
		}
		if err := h.catalog.Upsert(ctx, p); err != nil {
			return fmt.Errorf("store product %s: %w", p.SKU(), err)
		}
		if _, err := h.audit.Append(ctx, cmd.Actor, AuditProductUpdated, p.SKU(), details); err != nil {
			return fmt.Errorf("audit product update: %w", err)
		}
		out = p
		return nil
	})
	return out, err
}

func (h UpdateProduct) changeMargin(ctx context.Context, cmd UpdateProductCommand, details map[string]string) error {
	switch {
	case cmd.Margin != nil:
		rule, err := domain.NewMarginRule(domain.MarginForProduct, cmd.SKU, *cmd.Margin)
		if err != nil {
			return err
		}
		details["margin"] = rule.Margin().String()
		return h.rules.Set(ctx, rule)
	case cmd.ClearMargin:
		details["margin"] = "default"
		return h.rules.Delete(ctx, domain.MarginForProduct, cmd.SKU)
	}
	return nil
}
